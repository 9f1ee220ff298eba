using System.Text.Json;
using RelayCluster.Core.Metering;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Redis;

/// <summary>A settlement kept in a batch's unbooked usage until the tenant grain has booked it: <c>0|</c> or <c>1|</c>
/// (unreserved) followed by the usage record's JSON.</summary>
internal static class UnbookedSettlement
{
    public static string Write(Settlement settlement) =>
        (settlement.Unreserved ? "1|" : "0|") + JsonSerializer.Serialize(settlement.Record, UsageJsonContext.Default.UsageRecord);

    public static Settlement Read(string value) =>
        new(JsonSerializer.Deserialize(value.AsSpan(2), UsageJsonContext.Default.UsageRecord)!, value[0] == '1');
}
