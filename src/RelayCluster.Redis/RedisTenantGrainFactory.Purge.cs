using System.Globalization;
using RelayCluster.Core.Auth;

namespace RelayCluster.Redis;

/// <summary>
/// Purging a tenant in the cluster: every key under its hash tag <c>{t:id}</c> goes (grain state, windows,
/// reservations, batches with their chunks and items), except what audit needs: the ledger stream and each month's
/// usage totals are renamed aside (<c>{t:id}#deleted:&lt;ms&gt;:ledger</c>, <c>…:usage:&lt;month&gt;</c>), where no
/// settle turn and no usage endpoint looks, so the next tenant of the id starts with a ledger and totals of its own. The batch task stream is emptied, not deleted, so workers polling it
/// keep their consumer group. A late settle of a request admitted before the purge finds no reservation and books
/// nothing, so it cannot reach the spend of a tenant created later with the same id.
/// </summary>
public sealed partial class RedisTenantGrainFactory : ITenantDataPurge
{
    public async Task PurgeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var tag = "{t:" + tenantId + "}";
        var archive = tag + "#deleted:" + time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        await foreach (var key in RedisScan.KeysAsync(redis, RedisScan.Literal(tag) + ":*", cancellationToken))
        {
            var suffix = key[tag.Length..];
            if (suffix == ":ledger" || suffix.StartsWith(":usage:", StringComparison.Ordinal))
            {
                await redis.ExecuteAsync("RENAME", key, archive + suffix);
            }
            else if (suffix == ":batch-tasks")
            {
                await redis.StreamEmptyAsync(key);
            }
            else
            {
                await redis.ExecuteAsync("DEL", key);
            }
        }
    }
}
