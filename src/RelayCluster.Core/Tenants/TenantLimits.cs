using RelayCluster.Core.Configuration;
using RelayCluster.Core.Metering;

namespace RelayCluster.Core.Tenants;

/// <summary>
/// A tenant's limits as the grain enforces them. A null limit is unlimited. The budget thresholds are fractions of the
/// monthly budget in [0, 1] (0: that threshold is off; null: the relay's default, <c>Relay:Alerts:AlertThreshold</c> /
/// <c>PauseThreshold</c>); <see cref="AlertWebhookUrl"/> is the tenant's own webhook (null: the relay's), a secret.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.tenant-limits")]
public sealed record TenantLimits(
    [property: Id(0)] int? RequestsPerMinute, [property: Id(1)] int? TokensPerMinute, [property: Id(2)] int? MaxConcurrent,
    [property: Id(3)] long? MonthlyBudgetNanos, [property: Id(4)] double? AlertThreshold = null, [property: Id(5)] double? PauseThreshold = null,
    [property: Id(6)] string? AlertWebhookUrl = null)
{
    public static TenantLimits Unlimited { get; } = new(null, null, null, null);

    public static TenantLimits From(TenantOptions options) => new(
        NullIfZeroOrLess(options.RequestsPerMinute),
        NullIfZeroOrLess(options.TokensPerMinute),
        NullIfZeroOrLess(options.MaxConcurrent),
        options.MonthlyBudgetUsd is { } usd ? Money.ToNanos(usd) : null,
        options.AlertThreshold, options.PauseThreshold, string.IsNullOrWhiteSpace(options.AlertWebhookUrl) ? null : options.AlertWebhookUrl);

    /// <summary>These limits with the fields a patch sets replaced.</summary>
    public TenantLimits With(TenantLimitsPatch patch) => new(
        patch.RequestsPerMinute.Or(RequestsPerMinute), patch.TokensPerMinute.Or(TokensPerMinute),
        patch.MaxConcurrent.Or(MaxConcurrent), patch.MonthlyBudgetNanos.Or(MonthlyBudgetNanos),
        patch.AlertThreshold.Or(AlertThreshold), patch.PauseThreshold.Or(PauseThreshold), patch.AlertWebhookUrl.Or(AlertWebhookUrl));

    /// <summary>Whether a threshold value is one a tenant may have: null (the default) or a fraction in [0, 1].</summary>
    public static bool IsThreshold(double? value) => value is null || (double.IsFinite(value.Value) && value.Value is >= 0 and <= 1);

    /// <summary>What <c>ToString()</c> prints: every limit, and whether a webhook is set, never its URL (a secret).</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"RequestsPerMinute = {RequestsPerMinute}, TokensPerMinute = {TokensPerMinute}, MaxConcurrent = {MaxConcurrent}, MonthlyBudgetNanos = {MonthlyBudgetNanos}, AlertThreshold = {AlertThreshold}, PauseThreshold = {PauseThreshold}, AlertWebhookUrl = {Redacted(AlertWebhookUrl)}");
        return true;
    }

    /// <summary>A secret as records print it: "(redacted)", or nothing when there is none.</summary>
    internal static string Redacted(string? secret) => secret is null ? "" : "(redacted)";

    // 0 in a config file is read as "no limit" rather than "refuse everything": a tenant that should get
    // nothing is paused or deleted, not given a zero limit.
    private static int? NullIfZeroOrLess(int? value) => value is > 0 ? value : null;
}
