using System.Text.Json.Nodes;
using RelayCluster.Silo.Api;

namespace RelayCluster.Tests.Alerts;

/// <summary>The budget fields of a tenant create or update body, checked before any grain sees them.</summary>
public sealed class TenantAdminRequestTests
{
    [Theory]
    [InlineData("\" \"")]
    [InlineData("\"\\t\"")]
    [InlineData("\"\"")]
    public void A_blank_webhook_url_is_refused_with_its_param_not_stored_as_a_url_no_request_could_use(string value)
    {
        var body = JsonNode.Parse($"{{\"alert_webhook_url\": {value}}}")!.AsObject();
        var (request, error) = TenantAdminRequest.Parse((body, null), requireId: false);
        Assert.Null(request);
        Assert.Equal((400, "alert_webhook_url", "invalid_value"), (error!.Status, error.Error.Param, error.Error.Code));
    }
}
