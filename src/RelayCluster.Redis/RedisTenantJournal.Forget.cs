using System.Globalization;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>
/// Forgetting a deleted tenant in the cluster. The epoch goes up first, so no activation anywhere can commit to the
/// tenant's keys again; then every key under its hash tag <c>{t:id}</c> goes (windows, reservations, settings) except what
/// audit and fencing need: the ledger stream and each month's usage totals are
/// renamed aside (<c>{t:id}#deleted:&lt;ms&gt;:ledger</c>, <c>…:usage:&lt;month&gt;</c>), where no commit and no usage
/// endpoint looks, and the epoch stays (a later activation must still out-number every earlier one). (Batches are grains:
/// their purge is <c>OrleansBatches</c>'.) A late settle of a request admitted
/// before the purge finds no reservation and books nothing, so it cannot reach a later tenant of the same id.
/// </summary>
public sealed partial class RedisTenantJournal
{
    public async Task<long> ForgetAsync(string tenantId)
    {
        var keys = RedisTenantKeys.Of(tenantId);
        var epoch = (long)await redis.ExecuteAsync("INCR", keys.Epoch);
        var tag = (string)RedisTenantKeys.Tag(tenantId)!;
        var archive = tag + "#deleted:" + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        await foreach (var key in RedisScan.KeysAsync(redis, RedisScan.Literal(tag) + ":*"))
        {
            var suffix = key[tag.Length..];
            if (suffix == ":epoch")
            {
                continue;
            }

            if (suffix == ":ledger" || suffix.StartsWith(":usage:", StringComparison.Ordinal))
            {
                await redis.ExecuteAsync("RENAME", key, archive + suffix);
            }
            else
            {
                await redis.ExecuteAsync("DEL", key);
            }
        }

        return epoch;
    }
}
