using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Batches;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Silo.Alerts;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Hosting;
using RelayCluster.Silo.Streams;
using RelayCluster.Silo.Tenants;
using RelayCluster.Tests.Infrastructure;
using RelayCluster.Tests.Tenants;
using StackExchange.Redis;

namespace RelayCluster.Tests.Batches;

/// <summary>
/// Three Orleans silos in this process hosting the batch grains as a relay cluster does: batch, chunk and listing grains
/// on grain storage <c>relay</c>, tenant grains over one journal, progress channels, and one file store and work
/// directory on a shared temporary "volume". Each silo has its own file store, part files and item executor, as each
/// relay process has; the executor is a fake upstream (<see cref="FakeUpstream"/>) that admits and books on the real
/// tenant grains. Small chunks, a short heartbeat and fast progress, so a suite runs in seconds.
/// </summary>
public abstract class BatchGrainCluster : IAsyncLifetime
{
    private readonly TempDirectory _files = new();
    private readonly TempDirectory _work = new();
    private readonly TempDirectory _directory = new();
    private InProcessTestCluster _cluster = null!;

    /// <summary>Silos the cluster starts with.</summary>
    protected virtual int SiloCount => 3;

    public InProcessTestCluster Cluster => _cluster;

    public FakeUpstream Upstream { get; } = new();

    /// <summary>Settles that fail once before they reach the tenant grain (a commit that did not happen); every silo books through these.</summary>
    public SettleFaults Settles => Upstream.Settles;

    /// <summary>What the batch grains' silos logged (warnings and above of the relay's own categories are shown on failure).</summary>
    public LogCapture Logs { get; } = new();

    public RelayOptions Options { get; } = new()
    {
        Batches = new BatchOptions
        {
            ChunkSize = 5,
            MaxConcurrentItems = 4,
            MaxConcurrentChunks = 2,
            MaxItemsPerTenant = 2, // one tenant holds at most half a silo's item slots
            MaxTaskAttempts = 3,
            LeaseSeconds = 1.5,
            ProgressIntervalMs = 100,
            RetryBaseMs = 50,
        },
    };

    /// <summary>The shared file store as a test (the API) sees it; every silo has its own over the same directory.</summary>
    public GatedFileStore Files { get; private set; } = null!;

    /// <summary>The journal every silo's tenant grains commit to.</summary>
    public abstract ITenantJournal Journal { get; }

    /// <summary>Grain storage <c>relay</c> and reminders.</summary>
    protected abstract void AddProviders(ISiloBuilder silo);

    protected virtual Task StartAsync() => Task.CompletedTask;

    protected virtual Task StopAsync() => Task.CompletedTask;

    /// <summary>The Batch API's view of the batches, through one silo's grain factory.</summary>
    internal OrleansBatches Batches(int silo = 0) => Services(silo).GetRequiredService<OrleansBatches>();

    /// <summary>The tenant grains, through one silo (its admissions name that silo).</summary>
    public OrleansTenantGrainFactory Tenants(int silo = 0) => Services(silo).GetRequiredService<OrleansTenantGrainFactory>();

    internal BatchProgress Progress(int silo = 0) => Services(silo).GetRequiredService<BatchProgress>();

    public IStreamChannelFactory Channels(int silo = 0) => Services(silo).GetRequiredService<IStreamChannelFactory>();

    /// <summary>A deleted tenant's purge as a silo runs it: batches, their part files, then the tenant grain.</summary>
    public TenantPurge Purge(int silo = 0) => new(new ITenantDataPurge[]
    {
        Services(silo).GetRequiredService<OrleansBatches>(),
        new PartFilesPurge(Services(silo).GetRequiredService<PartFiles>()),
        Tenants(silo),
    });

    public IServiceProvider Services(int silo) => _cluster.Silos[silo].ServiceProvider;

    public string AddressOf(int silo) => _cluster.Silos[silo].SiloAddress.ToParsableString();

    public async Task InitializeAsync()
    {
        await StartAsync();
        Files = new GatedFileStore(new DirectoryFileStore(new FilesOptions { Path = _files.Path }, TimeProvider.System));
        Options.Batches.WorkPath = _work.Path;
        Options.Files.Path = _files.Path;
        var directory = new MemoryTenantDirectory(Path.Combine(_directory.Path, "tenants.journal"));
        var builder = new InProcessTestClusterBuilder(initialSilosCount: (short)SiloCount);
        builder.ConfigureSilo((_, silo) =>
        {
            AddProviders(silo);
            silo.AddBatchPlacement();
            silo.UseBinaryGrainState();
            var services = silo.Services;
            services.AddSingleton(TimeProvider.System);
            services.AddSingleton(Options);
            services.AddSingleton(new TenantStoreOptions(60_000));
            services.AddBudgetAlerts();
            services.AddTenantGrains(_ => Journal);
            services.AddSingleton<ITenantGrainFactory>(sp => Settles.Wrap(sp.GetRequiredService<OrleansTenantGrainFactory>()));
            services.AddSingleton<ITenantDirectory>(directory);
            services.AddSingleton<IStreamChannelFactory>(sp => new GrainStreamChannelFactory(
                sp.GetRequiredService<IGrainFactory>(), new StreamSettings(), TimeProvider.System));

            // This silo's own view of the shared file store, with the test's faults on it.
            services.AddSingleton<IFileStore>(_ => Files.For(new DirectoryFileStore(new FilesOptions { Path = _files.Path }, TimeProvider.System)));
            services.AddBatchGrains();
            services.AddSingleton<IBatchItemExecutor>(sp => new FakeItemExecutor(
                Upstream, sp.GetRequiredService<ITenantGrainFactory>(), sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString()));
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
            silo.Configure<global::Orleans.Configuration.ClusterMembershipOptions>(o => { o.ProbeTimeout = TimeSpan.FromSeconds(1); o.NumMissedProbesLimit = 2; });
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        Upstream.ReleaseAll();
        await _cluster.DisposeAsync();
        await StopAsync();
        _files.Dispose();
        _work.Dispose();
        _directory.Dispose();
    }

    /// <summary>The relay's own warnings and errors so far, for a failure message.</summary>
    public string RelayLog() => string.Join("\n", Logs.Entries
        .Where(e => e.Category.StartsWith("RelayCluster", StringComparison.Ordinal) && e.Level >= Microsoft.Extensions.Logging.LogLevel.Information)
        .TakeLast(40));
}

/// <summary>Grain state and reminders in memory (the embedded default's providers), tenant grains over the embedded journal.</summary>
public sealed class MemoryBatchGrainCluster : BatchGrainCluster
{
    private readonly EmbeddedTenantJournal _journal = new(new RecordingLedger(), TimeProvider.System);

    public override ITenantJournal Journal => _journal;

    protected override void AddProviders(ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(OrleansHosting.GrainStorage);
        silo.UseInMemoryReminderService();
    }
}

/// <summary>Grain state, reminders and tenant journal on a real redis-server of the cluster's own (the cluster's providers).</summary>
public class RedisBatchGrainCluster : BatchGrainCluster
{
    private RedisTenantJournal _journal = null!;

    public RedisServer Redis { get; } = new();

    public override ITenantJournal Journal => _journal;

    protected override void AddProviders(ISiloBuilder silo)
    {
        silo.AddRedisGrainStorage(OrleansHosting.GrainStorage, options => options.ConfigurationOptions = ConfigurationOptions.Parse(Redis.ConnectionString));
        silo.UseRedisReminderService(options => options.ConfigurationOptions = ConfigurationOptions.Parse(Redis.ConnectionString));
    }

    protected override async Task StartAsync()
    {
        await Redis.InitializeAsync();
        _journal = new RedisTenantJournal(Redis.Connection);
    }

    protected override Task StopAsync() => Redis.DisposeAsync();
}

/// <summary>
/// The upstream the fake executors call, per tenant: how long a call takes, which custom ids answer an error (and are
/// billed all the same) or break the relay (the executor throws), and what was called: every call counted as it starts,
/// on which silo, and how many are in flight.
/// </summary>
public sealed class FakeUpstream
{
    private readonly ConcurrentDictionary<string, TenantUpstream> _tenants = new(StringComparer.Ordinal);

    public TenantUpstream For(string tenantId) => _tenants.GetOrAdd(tenantId, _ => new TenantUpstream());

    public SettleFaults Settles { get; } = new();

    /// <summary>What an item of this custom id costs (nano-dollars), whichever run of it is billed: the spend is checkable from the files.</summary>
    public static long CostOf(string customId) => 1_000 + (long)(uint)StringComparer.Ordinal.GetHashCode(customId) % 10_000;

    public void ReleaseAll()
    {
        foreach (var tenant in _tenants.Values)
        {
            tenant.Gate.TrySetResult();
        }
    }

    public sealed class TenantUpstream
    {
        private int _started;
        private int _inFlight;

        public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);

        /// <summary>Custom ids the upstream answers 400 to (an error line, billed).</summary>
        public HashSet<string> Failing { get; } = new(StringComparer.Ordinal);

        /// <summary>Custom ids whose run throws a relay fault (not an item's end): the chunk's run fails.</summary>
        public HashSet<string> Breaking { get; } = new(StringComparer.Ordinal);

        /// <summary>Custom ids whose first settle fails before it reaches the tenant grain.</summary>
        public HashSet<string> SettleFailsOnce { get; } = new(StringComparer.Ordinal);

        /// <summary>The custom ids of the calls that were answered (each run once, unless a run was lost with its silo).</summary>
        public ConcurrentQueue<string> Answered { get; } = new();

        /// <summary>Calls wait here before they answer (open unless a test closes it).</summary>
        public TaskCompletionSource Gate { get; set; } = Opened();

        public int Started => Volatile.Read(ref _started);

        public int InFlight => Volatile.Read(ref _inFlight);

        /// <summary>Runs that reached the executor, per custom id (a relay fault included).</summary>
        public ConcurrentDictionary<string, int> Runs { get; } = new(StringComparer.Ordinal);

        /// <summary>Upstream calls started, per silo address.</summary>
        public ConcurrentDictionary<string, int> StartedOn { get; } = new(StringComparer.Ordinal);

        internal void Start(string silo)
        {
            Interlocked.Increment(ref _started);
            Interlocked.Increment(ref _inFlight);
            StartedOn.AddOrUpdate(silo, 1, (_, n) => n + 1);
        }

        internal void End() => Interlocked.Decrement(ref _inFlight);

        private static TaskCompletionSource Opened()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.SetResult();
            return gate;
        }
    }
}

/// <summary>
/// The item executor of one silo, in place of <see cref="BatchItemRunner"/>: the gate, an admission on the real tenant
/// grain, the gate again just before the call (as the real runner), then the fake upstream's answer with a settlement
/// of that admission, which the chunk grain books.
/// </summary>
internal sealed class FakeItemExecutor(FakeUpstream upstream, ITenantGrainFactory tenants, string silo) : IBatchItemExecutor
{
    public async Task<ItemResult> RunAsync(BatchRun run, int item, byte[] line)
    {
        var customId = BatchItemRunner.CustomIdOf(line);
        var calls = upstream.For(run.Tenant.Id);
        calls.Runs.AddOrUpdate(customId, 1, (_, n) => n + 1);
        if (calls.Breaking.Contains(customId))
        {
            throw new StoreUnavailableException($"Injected: item {customId} breaks its chunk's run.");
        }

        if (run.EndReason() is { } reason)
        {
            return BatchItemRunner.Unrun(customId, reason);
        }

        var requestId = "req_" + Guid.NewGuid().ToString("N");
        var cost = FakeUpstream.CostOf(customId);
        var grain = tenants.GetTenant(run.Tenant.Id);
        var admission = await grain.AdmitAsync(new AdmissionRequest(requestId, 10, cost * 2, 0.8));
        if (!admission.IsAdmitted)
        {
            return new ItemResult(ItemOutcome.Failed, BatchLines.Error(customId, "refused", admission.Outcome.ToString()), null);
        }

        // The gate and the count in one synchronous step on the chunk grain's turn: a stop either comes before (nothing
        // called) or after (this call runs to its end and is billed).
        if (run.EndReason() is { } closed)
        {
            await grain.ReleaseAsync(requestId);
            return BatchItemRunner.Unrun(customId, closed);
        }

        calls.Start(silo);
        try
        {
            await Task.Delay(calls.Delay, run.Stopping);
            await calls.Gate.Task.WaitAsync(run.Stopping);
        }
        finally
        {
            calls.End();
        }

        calls.Answered.Enqueue(customId);
        if (calls.SettleFailsOnce.Contains(customId))
        {
            upstream.Settles.FailNextSettle(requestId);
        }

        var failed = calls.Failing.Contains(customId);
        var status = failed ? 400 : 200;
        var body = System.Text.Encoding.UTF8.GetBytes($$"""{"cost":{{cost}},"silo":"{{silo}}"}""");
        var settlement = new Settlement(new UsageRecord
        {
            TimestampMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Tenant = run.Tenant.Id, RequestId = requestId,
            Endpoint = run.Work.Endpoint, Model = "m", UpstreamModel = "m", Provider = "fake", PromptTokens = 3, CompletionTokens = 4,
            CostNanos = cost, Ending = failed ? Endings.UpstreamError : Endings.Completed, Status = status,
        });
        return new ItemResult(failed ? ItemOutcome.Failed : ItemOutcome.Succeeded, BatchLines.Response(customId, status, requestId, body), settlement);
    }
}

/// <summary>
/// The file store with faults a test sets: the next read of a file can be held at a gate (a validation caught mid-way),
/// and a file can be lost for everyone after its first read (deleted while its batch runs).
/// </summary>
public sealed class GatedFileStore(IFileStore inner) : IFileStore
{
    private readonly ConcurrentDictionary<string, JournalHold> _holds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _lostAfter = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _reads = new(StringComparer.Ordinal);

    private IFileStore Inner { get; init; } = inner;

    /// <summary>The same faults over another silo's store of the same directory.</summary>
    public IFileStore For(IFileStore other) => new GatedFileStore(other) { Shared = this };

    private GatedFileStore? Shared { get; init; }

    private GatedFileStore Faults => Shared ?? this;

    /// <summary>The next open of the file waits until the hold is released.</summary>
    public JournalHold HoldNextRead(string fileId) => Faults._holds[fileId] = new JournalHold();

    /// <summary>The next save of a batch output file of the tenant (a finalization) waits until the hold is released.</summary>
    public JournalHold HoldNextOutput(string tenantId) => Faults._holds["output:" + tenantId] = new JournalHold();

    /// <summary>Opens after the first <paramref name="reads"/> find the file gone.</summary>
    public void LoseAfter(string fileId, int reads) => Faults._lostAfter[fileId] = reads;

    public async Task<StoredFile> SaveAsync(
        string tenantId, string filename, string purpose, Stream content, long? expiresAfterSeconds, long maxBytes, CancellationToken cancellationToken)
    {
        if (purpose == "batch_output" && Faults._holds.TryRemove("output:" + tenantId, out var hold))
        {
            hold.Entered.TrySetResult();
            await hold.Released.Task.WaitAsync(cancellationToken);
        }

        return await Inner.SaveAsync(tenantId, filename, purpose, content, expiresAfterSeconds, maxBytes, cancellationToken);
    }

    public ValueTask<StoredFile?> GetAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
        Inner.GetAsync(tenantId, fileId, cancellationToken);

    public async ValueTask<Stream?> OpenReadAsync(string tenantId, string fileId, CancellationToken cancellationToken = default)
    {
        if (Faults._holds.TryRemove(fileId, out var hold))
        {
            hold.Entered.TrySetResult();
            await hold.Released.Task.WaitAsync(cancellationToken);
        }

        var reads = Faults._reads.AddOrUpdate(fileId, 1, (_, n) => n + 1);
        if (Faults._lostAfter.TryGetValue(fileId, out var after) && reads > after)
        {
            return null;
        }

        return await Inner.OpenReadAsync(tenantId, fileId, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(string tenantId, string fileId, CancellationToken cancellationToken = default) =>
        Inner.DeleteAsync(tenantId, fileId, cancellationToken);

    public ValueTask<FilePage> ListAsync(string tenantId, string? purpose, string? after, int limit, bool descending, CancellationToken cancellationToken = default) =>
        Inner.ListAsync(tenantId, purpose, after, limit, descending, cancellationToken);

    public ValueTask<FileStorageUsage> GetUsageAsync(string tenantId, CancellationToken cancellationToken = default) =>
        Inner.GetUsageAsync(tenantId, cancellationToken);
}
