using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;
using RelayCluster.Silo.Alerts;
using RelayCluster.Silo.Tenants;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Tenants;

/// <summary>
/// Two Orleans silos in this process (the in-process test cluster) hosting tenant grains over one journal, as two relays
/// share one. The tenants' clock is a manual clock the tests move (Orleans' own time is the real one).
/// </summary>
public abstract class TenantGrainCluster : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;

    public ManualClock Clock { get; } = new(TenantGrainContract.Start);

    public TenantStoreOptions Options { get; } = new(60_000);

    public InProcessTestCluster Cluster => _cluster;

    /// <summary>The tenant grain factory of a silo, as that silo's HTTP handlers use it.</summary>
    public OrleansTenantGrainFactory Factory(int silo = 0)
    {
        var services = _cluster.Silos[silo].ServiceProvider;
        return new OrleansTenantGrainFactory(services.GetRequiredService<IGrainFactory>(), services.GetRequiredService<ILocalSiloDetails>());
    }

    /// <summary>The journal every silo's grains commit to.</summary>
    public abstract ITenantJournal Journal { get; }

    protected virtual Task StartAsync() => Task.CompletedTask;

    protected virtual Task StopAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await StartAsync();
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(TimeProvider.System);
            silo.Services.AddKeyedSingleton<TimeProvider>(TenantGrain.ClockKey, Clock);
            silo.Services.AddSingleton(Options);
            silo.Services.AddBudgetAlerts();
            RelayCluster.Silo.Console.Live.LiveServices.AddLiveFeed(silo.Services); // the tenant grain's hook to the admin hub's feed
            silo.Services.AddSingleton(Journal);
            silo.Configure<global::Orleans.Configuration.ClusterMembershipOptions>(o => { o.ProbeTimeout = TimeSpan.FromSeconds(1); o.NumMissedProbesLimit = 2; });
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await StopAsync();
    }
}

/// <summary>Tenant grains over the embedded journal, with a usage log the tests read.</summary>
public sealed class EmbeddedTenantGrainCluster : TenantGrainCluster
{
    private readonly CommitLog _journal;

    public EmbeddedTenantGrainCluster() => _journal = new CommitLog(new EmbeddedTenantJournal(Ledger, Clock));

    public RecordingLedger Ledger { get; } = new();

    public override ITenantJournal Journal => _journal;

    /// <summary>The usage records the grains of one tenant committed.</summary>
    public IReadOnlyList<UsageRecord> Committed(string tenantId) => _journal.Committed(tenantId);

    /// <summary>Holds the tenant's next commit (or incarnation spend read) until the hold is released or failed.</summary>
    public JournalHold HoldNextCommit(string tenantId) => _journal.Hold(tenantId, commit: true);

    /// <inheritdoc cref="HoldNextCommit"/>
    public JournalHold HoldNextIncarnationSpend(string tenantId) => _journal.Hold(tenantId, commit: false);

    /// <summary>The embedded journal, noting which tenant committed which usage record (the records carry the caller's tenant name).</summary>
    private sealed class CommitLog(ITenantJournal inner) : ITenantJournal
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, List<UsageRecord>> _committed = new(StringComparer.Ordinal);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, bool), JournalHold> _holds = new();

        public JournalHold Hold(string tenantId, bool commit) => _holds[(tenantId, commit)] = new JournalHold();

        private async Task PassAsync(string tenantId, bool commit)
        {
            if (_holds.TryRemove((tenantId, commit), out var hold))
            {
                hold.Entered.TrySetResult();
                await hold.Released.Task;
            }
        }

        public IReadOnlyList<UsageRecord> Committed(string tenantId)
        {
            var records = _committed.GetOrAdd(tenantId, _ => []);
            lock (records)
            {
                return [.. records];
            }
        }

        public Task<TenantJournalLoad> LoadAsync(string tenantId) => inner.LoadAsync(tenantId);

        public async Task CommitAsync(string tenantId, long epoch, TenantChanges changes)
        {
            await PassAsync(tenantId, commit: true);
            await inner.CommitAsync(tenantId, epoch, changes);
            var records = _committed.GetOrAdd(tenantId, _ => []);
            lock (records)
            {
                records.AddRange(changes.Ledger.Select(e => e.Record));
            }
        }

        public async Task<long> IncarnationSpendAsync(string tenantId, string incarnation, string month)
        {
            await PassAsync(tenantId, commit: false);
            return await inner.IncarnationSpendAsync(tenantId, incarnation, month);
        }

        public Task<long> ForgetAsync(string tenantId) => inner.ForgetAsync(tenantId);
    }
}

/// <summary>One held journal call: <see cref="Entered"/> completes when the grain makes it; then release it or fail it.</summary>
public sealed class JournalHold
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => Released.TrySetResult();

    /// <summary>The held call fails as a store that went away does (nothing written).</summary>
    public void Fail() => Released.TrySetException(new StoreUnavailableException("Injected: the store went away."));
}

/// <summary>Tenant grains over the Redis journal on a redis-server of their own (AOF on).</summary>
public sealed class RedisTenantGrainCluster : TenantGrainCluster
{
    private RedisTenantJournal _journal = null!;

    public RedisServer Redis { get; } = new();

    public override ITenantJournal Journal => _journal;

    protected override async Task StartAsync()
    {
        await Redis.InitializeAsync();
        _journal = new RedisTenantJournal(Redis.Connection);
    }

    protected override Task StopAsync() => Redis.DisposeAsync();
}

/// <summary>A usage log in memory: what was appended, and what a restart would read back as a month's spend.</summary>
public sealed class RecordingLedger : IUsageLedger
{
    private readonly Lock _lock = new();
    private readonly List<UsageRecord> _records = [];

    public IReadOnlyList<UsageRecord> Records
    {
        get
        {
            lock (_lock)
            {
                return [.. _records];
            }
        }
    }

    public Dictionary<string, long> Spent { get; } = [];

    public void Append(UsageRecord record)
    {
        lock (_lock)
        {
            _records.Add(record);
        }
    }

    public IReadOnlyDictionary<string, long> SpentByTenant(string month) => Spent;

    public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
}
