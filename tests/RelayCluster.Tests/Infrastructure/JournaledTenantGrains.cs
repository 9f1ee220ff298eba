using System.Collections.Concurrent;
using RelayCluster.Core.Auth;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// The tenant grain's turns without Orleans, for tests whose subject is another store (batches, purges, creation): the
/// same <see cref="TenantBook"/> and the same journals as the grain, one turn at a time per tenant, each commit awaited
/// within its turn. The grain itself is tested by the tenant contract on an Orleans test cluster.
/// </summary>
public sealed class JournaledTenantGrains(ITenantJournal journal, TenantStoreOptions options, TimeProvider time)
    : ITenantGrainFactory, ITenantIncarnations, ITenantDataPurge
{
    private readonly ConcurrentDictionary<string, Tenant> _tenants = new(StringComparer.Ordinal);

    private ITenantJournal Journal => journal;

    private TenantStoreOptions Options => options;

    /// <summary>Over the embedded journal and a usage log (the incarnation of an id from <paramref name="incarnationOf"/>).</summary>
    public static JournaledTenantGrains Embedded(IUsageLedger ledger, TenantStoreOptions options, TimeProvider time, Func<string, string>? incarnationOf = null) =>
        new(new EmbeddedTenantJournal(ledger, time, incarnationOf), options, time);

    public ITenantGrain GetTenant(string tenantId) => _tenants.GetOrAdd(tenantId, id => new Tenant(id, this));

    public ValueTask BeginIncarnationAsync(string tenantId, string incarnation) =>
        ((Tenant)GetTenant(tenantId)).TurnAsync(async book =>
        {
            if (book.Incarnation != incarnation)
            {
                book.BeginIncarnation(incarnation, await journal.IncarnationSpendAsync(tenantId, incarnation, Money.MonthOf(time.GetUtcNow())), Now());
            }

            return true;
        }).AsValueTaskVoid();

    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await journal.ForgetAsync(tenantId);
        _tenants.TryRemove(tenantId, out _);
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private sealed class Tenant(string id, JournaledTenantGrains owner) : ITenantGrain
    {
        private readonly SemaphoreSlim _turn = new(1, 1);
        private TenantBook? _book;
        private long _epoch;

        public ValueTask<Admission> AdmitAsync(AdmissionRequest request) => TurnAsync(book => Task.FromResult(book.Admit(request, "", owner.Now())));

        public ValueTask<bool> SettleAsync(Settlement settlement) => TurnAsync(book => Task.FromResult(book.Settle(settlement, owner.Now())));

        public ValueTask<bool> ReleaseAsync(string requestId) => TurnAsync(book => Task.FromResult(book.Release(requestId, owner.Now())));

        public ValueTask<bool> RenewAsync(string requestId) => TurnAsync(book => Task.FromResult(book.Renew(requestId, owner.Now())));

        public ValueTask<QuotaSnapshot> GetQuotaAsync() => TurnAsync(book => Task.FromResult(book.Quota(owner.Now())));

        public ValueTask<Admission?> PrecheckAsync(double capacityShare) => TurnAsync(book => Task.FromResult(book.Precheck(capacityShare, owner.Now())));

        public ValueTask SetLimitsAsync(TenantLimits limits) => TurnAsync(book => { book.SetLimits(limits, owner.Now()); return Task.FromResult(true); }).AsValueTaskVoid();

        public ValueTask<TenantLimits> UpdateLimitsAsync(TenantLimitsPatch patch) => TurnAsync(book => Task.FromResult(book.UpdateLimits(patch, owner.Now())));

        public ValueTask SetPausedAsync(bool paused) => TurnAsync(book => { book.SetPaused(paused); return Task.FromResult(true); }).AsValueTaskVoid();

        public ValueTask<BudgetAlerts> GetAlertsAsync() => TurnAsync(book => Task.FromResult(book.Alerts(owner.Now())));

        public async ValueTask<T> TurnAsync<T>(Func<TenantBook, Task<T>> turn)
        {
            await _turn.WaitAsync();
            try
            {
                if (_book is null)
                {
                    var (epoch, image) = await owner.Journal.LoadAsync(id);
                    (_epoch, _book) = (epoch, new TenantBook(id, image, owner.Options, owner.Now()));
                }

                var book = _book!;
                var result = await turn(book);
                if (!book.Changes.IsEmpty)
                {
                    try
                    {
                        await owner.Journal.CommitAsync(id, _epoch, book.TakeChanges());
                    }
                    catch
                    {
                        _book = null; // reload what was committed, as a failed grain does
                        throw;
                    }
                }

                return result;
            }
            finally
            {
                _turn.Release();
            }
        }
    }
}

internal static class ValueTaskVoid
{
    public static async ValueTask AsValueTaskVoid<T>(this ValueTask<T> task) => await task;
}
