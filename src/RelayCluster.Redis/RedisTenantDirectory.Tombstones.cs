using StackExchange.Redis;
using RelayCluster.Core.Auth;

namespace RelayCluster.Redis;

/// <summary>
/// Tombstones in the cluster's directory: <c>{relay}:deleted</c> holds deleted tenant ids and <c>{relay}:revoked</c>
/// revoked key hashes, written by the same script as the delete or revoke, and read by the seeding create in one
/// script too, so a silo that starts (or restarts, or joins) later can never re-seed what an admin removed.
/// </summary>
public sealed partial class RedisTenantDirectory
{
    private static readonly RedisKey Deleted = "{relay}:deleted";
    private static readonly RedisKey Revoked = "{relay}:revoked";

    public Task<bool> CreateConfiguredAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => CreateAsync(tenant, keys, "configured");

    public async Task<bool> IsDeletedAsync(string tenantId) => (long)await _redis.ExecuteAsync("SISMEMBER", (string)Deleted!, tenantId) == 1;

    /// <summary>Always null: the cluster's directory outlives every silo, so a tenant that exists is never seeded again.</summary>
    public Task<string?> KnownIncarnationAsync(string tenantId) => Task.FromResult<string?>(null);
}
