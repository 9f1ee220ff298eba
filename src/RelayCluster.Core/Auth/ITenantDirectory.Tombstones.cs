namespace RelayCluster.Core.Auth;

/// <summary>
/// What seeding needs so that deletes stay deleted: a deleted tenant and a revoked key leave tombstones that outlive
/// restarts, redeploys and new silos, and the configuration file can never bring them back.
/// </summary>
public partial interface ITenantDirectory
{
    /// <summary>
    /// Creates a tenant from the configuration file: false, changing nothing, if the id exists or was deleted (a
    /// tombstone). Keys whose hash was revoked are left out; the others are added. One atomic step, so a silo that
    /// starts while an admin deletes the tenant cannot slip it back in.
    /// </summary>
    Task<bool> CreateConfiguredAsync(TenantEntry tenant, IReadOnlyList<NewApiKey> keys);

    /// <summary>Whether the id was deleted and not created again since (its tombstone stands).</summary>
    Task<bool> IsDeletedAsync(string tenantId);

    /// <summary>
    /// The incarnation the id last had, where the directory itself does not outlive the process (the embedded store's
    /// journal): seeding gives a configured tenant the same incarnation again, so its files and spend stay its own, and
    /// an explicit create of an id known this way purges what the earlier tenant left. Null when nothing is known (a
    /// fresh id, or a store whose directory outlives every process).
    /// </summary>
    Task<string?> KnownIncarnationAsync(string tenantId);
}

/// <summary>Incarnations: a random id stamped on a tenant when it is created through the admin API.</summary>
public static class TenantIncarnation
{
    /// <summary>A new incarnation: 96 random bits as hex.</summary>
    public static string New() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
}
