using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>A tenant's limits as the grain enforces them. A null limit is unlimited.</summary>
[GenerateSerializer, Immutable, Alias("relay.tenant-limits")]
public sealed record TenantLimits(
    [property: Id(0)] int? RequestsPerMinute, [property: Id(1)] int? TokensPerMinute, [property: Id(2)] int? MaxConcurrent,
    [property: Id(3)] long? MonthlyBudgetNanos)
{
    public static TenantLimits Unlimited { get; } = new(null, null, null, null);

    public static TenantLimits From(TenantOptions options) => new(
        NullIfZeroOrLess(options.RequestsPerMinute),
        NullIfZeroOrLess(options.TokensPerMinute),
        NullIfZeroOrLess(options.MaxConcurrent),
        options.MonthlyBudgetUsd is { } usd ? Money.ToNanos(usd) : null);

    /// <summary>These limits with the fields a patch sets replaced.</summary>
    public TenantLimits With(TenantLimitsPatch patch) => new(
        patch.RequestsPerMinute.Or(RequestsPerMinute), patch.TokensPerMinute.Or(TokensPerMinute),
        patch.MaxConcurrent.Or(MaxConcurrent), patch.MonthlyBudgetNanos.Or(MonthlyBudgetNanos));

    // 0 in a config file is read as "no limit" rather than "refuse everything": a tenant that should get
    // nothing is paused or deleted, not given a zero limit.
    private static int? NullIfZeroOrLess(int? value) => value is > 0 ? value : null;
}
