using Microsoft.Extensions.DependencyInjection;
using RelayCluster.Core.Files;
using RelayCluster.Core.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Faults injected into a real silo (through <c>RelayHost</c>'s service hook) where no HTTP input can reach today:
/// a batch item whose admission throws (a line that breaks the runner deep inside), and a finalization whose
/// output file cannot be saved (a task that fails every time), optionally held at a gate so a test can act while
/// the task is stuck. Everything else is the real store.
/// </summary>
internal sealed class BatchFaults
{
    /// <summary>A batch item asking for exactly this many output tokens (and a short prompt) throws at admission.</summary>
    public const int ThrowingMaxTokens = 3333;

    /// <summary>The tenant whose batch output files cannot be saved.</summary>
    public const string UnsavableTenant = "c";

    private TaskCompletionSource _gate = Opened();

    /// <summary>Completes when a finalization of <see cref="UnsavableTenant"/> reached the fault.</summary>
    public TaskCompletionSource FinalizeReached { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>From now on, finalizations wait at the gate before they fail, until <see cref="OpenGate"/>.</summary>
    public void CloseGate()
    {
        FinalizeReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void OpenGate() => _gate.TrySetResult();

    public void Apply(IServiceCollection services)
    {
        Decorate<ITenantGrainFactory>(services, inner => new ThrowingGrains(inner));
        Decorate<IFileStore>(services, inner => new UnsavableOutputs(inner, this));
    }

    private static void Decorate<T>(IServiceCollection services, Func<T, T> wrap)
        where T : class
    {
        var original = services.Last(d => d.ServiceType == typeof(T));
        services.Add(ServiceDescriptor.Singleton(sp => wrap((T)original.ImplementationFactory!(sp))));
    }

    private static TaskCompletionSource Opened()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private sealed class ThrowingGrains(ITenantGrainFactory inner) : ITenantGrainFactory
    {
        public ITenantGrain GetTenant(string tenantId) => new ThrowingGrain(inner.GetTenant(tenantId));
    }

    private sealed class ThrowingGrain(ITenantGrain inner) : DelegatingTenantGrain(inner)
    {
        public override ValueTask<Admission> AdmitAsync(AdmissionRequest request) =>
            request.CapacityShare < 1 && request.EstimatedTokens is > ThrowingMaxTokens and < ThrowingMaxTokens + 100
                ? throw new InvalidOperationException("Injected: this batch item breaks the runner.")
                : base.AdmitAsync(request);
    }

    private sealed class UnsavableOutputs(IFileStore inner, BatchFaults faults) : IFileStore
    {
        public async Task<StoredFile> SaveAsync(
            string tenantId, string filename, string purpose, Stream content, long? expiresAfterSeconds, long maxBytes, CancellationToken cancellationToken)
        {
            if (tenantId == UnsavableTenant && purpose == "batch_output")
            {
                faults.FinalizeReached.TrySetResult();
                await faults._gate.Task.WaitAsync(cancellationToken);
                throw new IOException("Injected: the output file cannot be saved.");
            }

            return await inner.SaveAsync(tenantId, filename, purpose, content, expiresAfterSeconds, maxBytes, cancellationToken);
        }

        public ValueTask<StoredFile?> GetAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
            inner.GetAsync(tenantId, fileId, cancellationToken);

        public ValueTask<Stream?> OpenReadAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
            inner.OpenReadAsync(tenantId, fileId, cancellationToken);

        public ValueTask<bool> DeleteAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
            inner.DeleteAsync(tenantId, fileId, cancellationToken);

        public ValueTask<FilePage> ListAsync(string tenantId, string? purpose, string? after, int limit, bool descending, CancellationToken cancellationToken = default) =>
            inner.ListAsync(tenantId, purpose, after, limit, descending, cancellationToken);

        public ValueTask<FileStorageUsage> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default) =>
            inner.GetUsageAsync(tenantId, cancellationToken);
    }
}
