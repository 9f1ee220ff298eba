using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

/// <summary>
/// The per-tenant storage limit over HTTP: enforced while uploads stream in (exact under concurrent uploads),
/// nothing left behind by a refused upload, space freed by deletes, a per-tenant override, and the count visible
/// to admins.
/// </summary>
public sealed class StorageQuotaTests : IDisposable
{
    private const string Key = "sk-quota-tenant";
    private const string SmallKey = "sk-quota-small";
    private const long Limit = 10_000;
    private const long SmallLimit = 2_500;

    private readonly TempDirectory _files = new();
    private readonly RelayHost _host;

    public StorageQuotaTests() => _host = new RelayHost(RelayHost.SimulatorSettings(
        ("Relay:Tenants:q:Keys:0", Key),
        ("Relay:Tenants:small:Keys:0", SmallKey),
        ("Relay:Tenants:small:MaxFileBytes", SmallLimit.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("Relay:Files:Path", _files.Path),
        ("Relay:Files:MaxUploadBytes", "8000"),
        ("Relay:Files:MaxBytesPerTenant", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    public void Dispose()
    {
        _host.Dispose();
        _files.Dispose();
    }

    private static MultipartFormDataContent Upload(int bytes) => FilesHost.Upload(new byte[bytes], "blob.bin", "user_data");

    private async Task<JsonObject> UsageAsync(string tenant)
    {
        using var admin = _host.ClientFor(RelayHost.AdminKey);
        return (await admin.GetFromJsonAsync<JsonObject>($"/admin/tenants/{tenant}/files/usage"))!;
    }

    /// <summary>Every file in the tenant's directory, temporary ones included.</summary>
    private string[] Stored() => Directory.GetFiles(_files.Path, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task Eight_concurrent_uploads_never_pass_the_limit_and_the_count_stays_exact()
    {
        using var client = _host.ClientFor(Key);
        const int Size = 3_000; // three fit in 10,000, four do not

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostAsync("/v1/files", Upload(Size))));

        var accepted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.InRange(accepted, 1, 3);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            var error = (await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!;
            Assert.Equal("storage_quota_exceeded", (string?)error["code"]);
            Assert.Equal("invalid_request_error", (string?)error["type"]);
        }

        var usage = await UsageAsync("q");
        Assert.Equal(accepted * Size, (long)usage["bytes"]!);
        Assert.Equal(accepted, (int)usage["files"]!);
        Assert.Equal(0, (long)usage["uploading_bytes"]!); // every refused upload gave back what it held
        Assert.Equal(Limit, (long)usage["limit_bytes"]!);
        Assert.Equal(accepted * 2, Stored().Length); // content and metadata of each stored file, nothing else

        // Exact to the byte: what is left fits, one byte more does not.
        var left = (int)(Limit - (accepted * Size)); // 7,000 at most: under MaxUploadBytes, so only the quota can refuse
        using (var tooMuch = await client.PostAsync("/v1/files", Upload(left + 1)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMuch.StatusCode);
            Assert.Equal("storage_quota_exceeded", (string?)(await tooMuch.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]);
        }

        Assert.Equal(accepted * 2, Stored().Length); // the refused upload's partial data is gone

        var fills = new List<string>();
        while (left > 0)
        {
            var size = Math.Min(left, 8000);
            using var fill = await client.PostAsync("/v1/files", Upload(size));
            Assert.Equal(HttpStatusCode.OK, fill.StatusCode);
            fills.Add((string)(await fill.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
            left -= size;
        }

        Assert.Equal(Limit, (long)(await UsageAsync("q"))["bytes"]!);
        using (var oneByte = await client.PostAsync("/v1/files", Upload(1)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, oneByte.StatusCode);
        }

        // A delete frees its bytes at once.
        var freed = (long)(await client.GetFromJsonAsync<JsonObject>($"/v1/files/{fills[0]}"))!["bytes"]!;
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"/v1/files/{fills[0]}")).StatusCode);
        Assert.Equal(Limit - freed, (long)(await UsageAsync("q"))["bytes"]!);
        using var again = await client.PostAsync("/v1/files", Upload((int)freed));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(Limit, (long)(await UsageAsync("q"))["bytes"]!);
    }

    [Fact]
    public async Task A_tenant_override_sets_its_own_limit_and_other_tenants_are_not_counted()
    {
        using var small = _host.ClientFor(SmallKey);
        using var other = _host.ClientFor(Key);
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsync("/v1/files", Upload(7_000))).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await small.PostAsync("/v1/files", Upload(2_000))).StatusCode);
        using var refused = await small.PostAsync("/v1/files", Upload(501));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains("2500 bytes", (string?)(await refused.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["message"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await small.PostAsync("/v1/files", Upload(500))).StatusCode);
        var usage = await UsageAsync("small");
        Assert.Equal(SmallLimit, (long)usage["limit_bytes"]!);
        Assert.Equal(SmallLimit, (long)usage["bytes"]!);
        Assert.Equal(7_000, (long)(await UsageAsync("q"))["bytes"]!);
    }
}
