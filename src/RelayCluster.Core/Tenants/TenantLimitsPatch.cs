namespace RelayCluster.Core.Tenants;

/// <summary>A value that is either set (possibly to null, meaning unlimited) or left as it is.</summary>
[GenerateSerializer, Immutable, Alias("relay.change`1")]
public readonly record struct Change<T>([property: Id(0)] bool IsSet, [property: Id(1)] T Value)
{
#pragma warning disable CA1000 // Change<int?>.To(5) reads better at call sites than a separate factory class.
    public static Change<T> Keep => default;

    public static Change<T> To(T value) => new(true, value);
#pragma warning restore CA1000

    public T Or(T current) => IsSet ? Value : current;
}

/// <summary>
/// Changes to some of a tenant's limits. Applied inside one grain turn, so two admins changing different
/// limits at once both succeed; reading the limits and writing them all back would lose one change.
/// </summary>
[GenerateSerializer, Immutable, Alias("relay.tenant-limits-patch")]
public sealed record TenantLimitsPatch(
    [property: Id(0)] Change<int?> RequestsPerMinute, [property: Id(1)] Change<int?> TokensPerMinute,
    [property: Id(2)] Change<int?> MaxConcurrent, [property: Id(3)] Change<long?> MonthlyBudgetNanos,
    [property: Id(4)] Change<double?> AlertThreshold = default, [property: Id(5)] Change<double?> PauseThreshold = default,
    [property: Id(6)] Change<string?> AlertWebhookUrl = default)
{
    /// <summary>What <c>ToString()</c> prints: each change, the webhook's without its URL (a secret).</summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"RequestsPerMinute = {RequestsPerMinute}, TokensPerMinute = {TokensPerMinute}, MaxConcurrent = {MaxConcurrent}, MonthlyBudgetNanos = {MonthlyBudgetNanos}, AlertThreshold = {AlertThreshold}, PauseThreshold = {PauseThreshold}, AlertWebhookUrl = {(AlertWebhookUrl.IsSet ? "set " + TenantLimits.Redacted(AlertWebhookUrl.Value) : "kept")}");
        return true;
    }
}
