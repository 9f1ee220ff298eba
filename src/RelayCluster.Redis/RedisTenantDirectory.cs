using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;
using RelayCluster.Core.Auth;

namespace RelayCluster.Redis;

/// <summary>
/// The cluster's tenant directory. All of it lives under the <c>{relay}</c> hash tag, so each write is one
/// atomic script (on Redis Cluster too) that publishes on <c>relay:changes</c>; every silo subscribes and
/// raises <see cref="Changed"/>, which is how a key revoked on one silo is refused on all of them at once.
/// </summary>
public sealed partial class RedisTenantDirectory : ITenantDirectory
{
    public const string ChangesChannel = "relay:changes";

    private static readonly RedisKey Tenants = "{relay}:tenants";
    private static readonly RedisKey KeyOwners = "{relay}:keys";
    private static readonly RedisScript Create = RedisScript.Named("directory-create");
    private static readonly RedisScript Change = RedisScript.Named("directory-change");

    private readonly RedisConnection _redis;

    private RedisTenantDirectory(RedisConnection redis) => _redis = redis;

    public event Action? Changed;

    public static async Task<RedisTenantDirectory> StartAsync(RedisConnection redis)
    {
        var directory = new RedisTenantDirectory(redis);
        await redis.SubscribeAsync(ChangesChannel, () => directory.Changed?.Invoke());
        return directory;
    }

    public async Task<string?> FindTenantIdAsync(string keyHash)
    {
        var id = await _redis.HashGetAsync(KeyOwners, keyHash);
        return id.IsNull ? null : (string?)id;
    }

    public async Task<TenantEntry?> GetAsync(string tenantId)
    {
        var fields = (await _redis.HashGetAllAsync(TenantKey(tenantId))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);
        return fields.Count == 0 ? null : new TenantEntry(
            tenantId, JsonSerializer.Deserialize<List<string>>(fields["models"]) ?? [], long.Parse(fields["created"], CultureInfo.InvariantCulture))
        {
            Incarnation = fields.GetValueOrDefault("incarnation") ?? "",
        };
    }

    public async Task<IReadOnlyList<string>> ListAsync() =>
        (await _redis.SetMembersAsync(Tenants)).Select(v => (string)v!).Order(StringComparer.Ordinal).ToList();

    public async Task<IReadOnlyList<ApiKeyEntry>> ListKeysAsync(string tenantId) =>
        (await _redis.HashGetAllAsync(TenantKeysKey(tenantId))).Select(e =>
        {
            var parts = ((string)e.Value!).Split('|');
            return new ApiKeyEntry(e.Name!, parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture));
        }).OrderBy(k => k.CreatedAt).ToList();

    public Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys) => CreateAsync(tenant, keys, "admin");

    private async Task<bool> CreateAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys, string mode)
    {
        RedisValue[] args =
        [
            tenant.Id, JsonSerializer.Serialize(tenant.Models), tenant.CreatedAt, tenant.Incarnation, mode,
            .. keys.SelectMany(k => new RedisValue[] { k.Hash, k.Entry.Id, Describe(k.Entry) }),
        ];
        return (long)await _redis.EvaluateAsync(Create, Keys(tenant.Id), args) == 1;
    }

    public Task<bool> SetModelsAsync(string tenantId, IReadOnlyList<string> models) =>
        ChangeAsync(tenantId, "models", JsonSerializer.Serialize(models));

    public Task<bool> DeleteAsync(string tenantId) => ChangeAsync(tenantId, "delete");

    public Task<bool> AddKeyAsync(string tenantId, NewApiKey key) => ChangeAsync(tenantId, "add-key", key.Hash, key.Entry.Id, Describe(key.Entry));

    public Task<bool> RevokeKeyAsync(string tenantId, string keyId) => ChangeAsync(tenantId, "revoke-key", keyId);

    private async Task<bool> ChangeAsync(string tenantId, string operation, params RedisValue[] args) =>
        (long)await _redis.EvaluateAsync(Change, Keys(tenantId), [tenantId, operation, .. args]) == 1;

    private static string Describe(ApiKeyEntry key) => key.Prefix + "|" + key.CreatedAt.ToString(CultureInfo.InvariantCulture);

    private static RedisKey[] Keys(string tenantId) => [Tenants, KeyOwners, TenantKey(tenantId), TenantKeysKey(tenantId), Deleted, Revoked];

    private static RedisKey TenantKey(string tenantId) => "{relay}:tenant:" + tenantId;

    private static RedisKey TenantKeysKey(string tenantId) => "{relay}:tenantkeys:" + tenantId;
}
