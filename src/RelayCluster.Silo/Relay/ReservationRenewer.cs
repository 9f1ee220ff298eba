using System.Collections.Concurrent;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Keeps the reservations of this silo's live requests from expiring: every quarter of the reservation
/// lifetime it renews each request that has been running that long. If the silo dies, renewals stop and
/// the store reclaims the reservations at their deadline. One loop for the silo, so a short request costs
/// a dictionary add and remove, not a timer of its own. Also retries settlements that found the store down, and
/// releases admissions whose outcome is unknown (the grain failed after its commit may have made the reservation).
/// </summary>
internal sealed partial class ReservationRenewer(TenantStoreOptions options, TimeProvider time, ILogger<ReservationRenewer> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<AdmittedRequest, long> _live = new();
    // Settles and releases the store could not take yet: a settlement to book, or (none) the request's reservation to free.
    private readonly ConcurrentQueue<(ITenantGrain Grain, string RequestId, Settlement? Settlement)> _pending = new();
    private readonly TimeSpan _period = TimeSpan.FromMilliseconds(options.ReservationTtlMs / 4.0);

    public IDisposable Track(AdmittedRequest request)
    {
        _live[request] = time.GetTimestamp();
        return new Untrack(this, request);
    }

    /// <summary>Books a settlement the store could not take just now, retrying every second until it can.</summary>
    public void SettleLater(ITenantGrain grain, Settlement settlement) => _pending.Enqueue((grain, settlement.RequestId, settlement));

    /// <summary>
    /// Frees, once the store answers again, the reservation an admission that failed with an unknown outcome may have
    /// left (committed, but the answer was lost with the grain's silo): the caller was refused, so nothing will settle it,
    /// and it would otherwise hold its slot and budget until its deadline. A release of nothing is a no-op.
    /// </summary>
    public void ReleaseLater(ITenantGrain grain, string requestId) => _pending.Enqueue((grain, requestId, null));

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(RenewLoopAsync(stoppingToken), SettleLoopAsync(stoppingToken));

    private async Task SettleLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            for (var count = _pending.Count; count > 0 && _pending.TryDequeue(out var pending); count--)
            {
                try
                {
                    _ = pending.Settlement is { } settlement
                        ? await pending.Grain.SettleAsync(settlement)
                        : await pending.Grain.ReleaseAsync(pending.RequestId);
                }
                catch (StoreUnavailableException)
                {
                    _pending.Enqueue(pending);
                }
            }
        }
    }

    private async Task RenewLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var (request, started) in _live)
            {
                if (time.GetElapsedTime(started) < _period)
                {
                    continue;
                }

                try
                {
                    await request.RenewAsync();
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The store is unreachable for now; the next tick tries again, well before the deadline.
                    Log.RenewFailed(logger, ex);
                }
            }
        }
    }

    private sealed class Untrack(ReservationRenewer renewer, AdmittedRequest request) : IDisposable
    {
        public void Dispose() => renewer._live.TryRemove(request, out _);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing reservations failed")]
        public static partial void RenewFailed(ILogger logger, Exception exception);
    }
}
