using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace RelayCluster.Tests.Files;

/// <summary>Refused uploads get an OpenAI envelope naming the field and leave nothing stored; tenants stay apart.</summary>
public sealed class FilesErrorTests(FilesHost files) : IClassFixture<FilesHost>
{
    private static async Task<JsonObject> ErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var error = (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.Equal("invalid_request_error", (string?)error["type"]);
        return error;
    }

    private async Task<JsonObject> RefusedUploadAsync(HttpContent body, HttpStatusCode status, string? param)
    {
        var before = files.StoredFiles();
        using var client = files.Host.ClientFor(FilesHost.Key1);
        using var response = await client.PostAsync("/v1/files", body);
        var error = await ErrorAsync(response, status);
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(before, files.StoredFiles()); // nothing left behind, not even a partial file
        return error;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_over_the_limit_is_413_and_leaves_nothing(bool purposeFirst)
    {
        var error = await RefusedUploadAsync(
            FilesHost.Upload(new byte[FilesHost.MaxUploadBytes + 1], "big.jsonl", "batch", purposeFirst), HttpStatusCode.RequestEntityTooLarge, "file");
        Assert.Contains(FilesHost.MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), (string)error["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_exactly_at_the_limit_is_accepted()
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        using var response = await client.PostAsync("/v1/files", FilesHost.Upload(new byte[FilesHost.MaxUploadBytes], "max.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_batch_file_that_is_not_jsonl_is_400_on_file(bool purposeFirst)
    {
        var error = await RefusedUploadAsync(FilesHost.Upload(FilesHost.Jsonl(1), "in.csv", "batch", purposeFirst), HttpStatusCode.BadRequest, "file");
        Assert.Contains(".jsonl", (string)error["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_purpose_missing_file_and_unknown_purpose_name_their_param()
    {
        var missingPurpose = await RefusedUploadAsync(FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", null), HttpStatusCode.BadRequest, "purpose");
        Assert.Equal("missing_required_parameter", (string?)missingPurpose["code"]);

        using var noFile = new MultipartFormDataContent { { new StringContent("batch"), "purpose" } };
        await RefusedUploadAsync(noFile, HttpStatusCode.BadRequest, "file");

        using var textNotFile = new MultipartFormDataContent { { new StringContent("batch"), "purpose" }, { new StringContent("{}"), "file" } };
        await RefusedUploadAsync(textNotFile, HttpStatusCode.BadRequest, "file");

        foreach (var purposeFirst in new[] { true, false })
        {
            await RefusedUploadAsync(FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", "batch_output", purposeFirst), HttpStatusCode.BadRequest, "purpose");
        }
    }

    [Theory]
    [InlineData("created_at", "3599", "expires_after[seconds]")]
    [InlineData("created_at", "2592001", "expires_after[seconds]")]
    [InlineData("created_at", "soon", "expires_after[seconds]")]
    [InlineData("last_used_at", "3600", "expires_after[anchor]")]
    [InlineData(null, "3600", "expires_after[anchor]")]
    [InlineData("created_at", null, "expires_after[seconds]")]
    public async Task A_bad_expiry_is_400_on_its_field(string? anchor, string? seconds, string param)
    {
        var form = FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", "batch");
        if (anchor is not null)
        {
            form.Add(new StringContent(anchor), "expires_after[anchor]");
        }

        if (seconds is not null)
        {
            form.Add(new StringContent(seconds), "expires_after[seconds]");
        }

        using (form)
        {
            await RefusedUploadAsync(form, HttpStatusCode.BadRequest, param);
        }
    }

    [Fact]
    public async Task A_body_that_is_not_multipart_or_is_cut_short_is_400()
    {
        using var json = new StringContent("""{"purpose":"batch"}""", Encoding.UTF8, "application/json");
        await RefusedUploadAsync(json, HttpStatusCode.BadRequest, null);

        const string body = "--b0undary\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n" +
            "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n{\"a\":1}\n{\"b\":";
        using var truncated = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        truncated.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b0undary");
        await RefusedUploadAsync(truncated, HttpStatusCode.BadRequest, null);
    }

    [Fact]
    public async Task Another_tenants_file_is_exactly_as_missing_as_a_file_that_never_existed()
    {
        using var owner = files.Host.ClientFor(FilesHost.Key1);
        using var other = files.Host.ClientFor(FilesHost.Key2);
        using var uploaded = await owner.PostAsync("/v1/files", FilesHost.Upload(FilesHost.Jsonl(2), "mine.jsonl", "batch"));
        var id = (string)(await uploaded.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var neverExisted = id[..13] + new string('Z', 22);

        foreach (var (method, suffix) in new[] { (HttpMethod.Get, ""), (HttpMethod.Get, "/content"), (HttpMethod.Delete, "") })
        {
            using var foreign = await other.SendAsync(new HttpRequestMessage(method, $"/v1/files/{id}{suffix}"));
            using var missing = await other.SendAsync(new HttpRequestMessage(method, $"/v1/files/{neverExisted}{suffix}"));
            var foreignError = await ErrorAsync(foreign, HttpStatusCode.NotFound);
            var missingError = await ErrorAsync(missing, HttpStatusCode.NotFound);

            Assert.Equal($"No such File object: {id}", (string?)foreignError["message"]);
            Assert.Equal("id", (string?)foreignError["param"]);
            Assert.Equal(missingError.ToJsonString().Replace(neverExisted, id, StringComparison.Ordinal), foreignError.ToJsonString());
        }

        var list = (await other.GetFromJsonAsync<JsonObject>("/v1/files"))!;
        Assert.DoesNotContain(id, list.ToJsonString(), StringComparison.Ordinal);
        using var stillThere = await owner.GetAsync($"/v1/files/{id}/content");
        Assert.Equal(FilesHost.Jsonl(2), await stillThere.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Files_need_a_tenant_key()
    {
        using var anonymous = files.Host.CreateClient();
        using var response = await anonymous.GetAsync("/v1/files");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
