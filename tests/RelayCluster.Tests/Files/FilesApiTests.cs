using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace RelayCluster.Tests.Files;

/// <summary>The Files API over real HTTP: the OpenAI shapes, byte-exact content, listing, deleting.</summary>
public sealed class FilesApiTests(FilesHost files) : IClassFixture<FilesHost>
{
    private static readonly string[] FileKeys = ["id", "object", "bytes", "created_at", "expires_at", "filename", "purpose", "status", "status_details"];

    private async Task<JsonObject> UploadAsync(HttpClient client, byte[] content, string filename = "in.jsonl", string purpose = "batch", bool purposeFirst = true)
    {
        using var response = await client.PostAsync("/v1/files", FilesHost.Upload(content, filename, purpose, purposeFirst));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Fact]
    public async Task Upload_returns_an_OpenAI_file_object_with_the_batch_expiry()
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        var content = FilesHost.Jsonl(3);

        var file = await UploadAsync(client, content, purposeFirst: false); // the Node SDK's order: file, then purpose

        Assert.Equal(FileKeys, file.Select(p => p.Key));
        Assert.Matches("^file-[0-9A-Za-z]{30}$", (string)file["id"]!);
        Assert.Equal("file", (string?)file["object"]);
        Assert.Equal(content.Length, (long)file["bytes"]!);
        Assert.Equal("in.jsonl", (string?)file["filename"]);
        Assert.Equal("batch", (string?)file["purpose"]);
        Assert.Equal("processed", (string?)file["status"]);
        Assert.Null(file["status_details"]);
        Assert.Equal((long)file["created_at"]! + (30 * 24 * 3600), (long)file["expires_at"]!);
        Assert.InRange((long)file["created_at"]!, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);

        using var retrieved = await client.GetAsync($"/v1/files/{file["id"]}");
        Assert.Equal(file.ToJsonString(), (await retrieved.Content.ReadFromJsonAsync<JsonObject>())!.ToJsonString());
    }

    [Fact]
    public async Task Content_comes_back_byte_exact_as_octet_stream_even_when_asked_for_application_binary()
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        var bytes = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        var file = await UploadAsync(client, bytes, "blob.bin", "user_data");
        Assert.Null(file["expires_at"]);
        Assert.True(file.ContainsKey("expires_at"), "expires_at is always present, null when the file never expires");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/files/{file["id"]}/content");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/binary"));
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task An_explicit_expiry_sets_expires_at()
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        using var form = FilesHost.Upload(FilesHost.Jsonl(1), "in.jsonl", "batch");
        form.Add(new StringContent("created_at"), "expires_after[anchor]");
        form.Add(new StringContent("3600"), "expires_after[seconds]");
        using var response = await client.PostAsync("/v1/files", form);

        var file = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal((long)file["created_at"]! + 3600, (long)file["expires_at"]!);
    }

    [Fact]
    public async Task Delete_answers_deleted_true_and_the_file_is_gone_everywhere()
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        var id = (string)(await UploadAsync(client, FilesHost.Jsonl(1)))["id"]!;

        using var deleted = await client.DeleteAsync($"/v1/files/{id}");
        Assert.Equal($$"""{"id":"{{id}}","object":"file","deleted":true}""", await deleted.Content.ReadAsStringAsync());

        foreach (var path in new[] { $"/v1/files/{id}", $"/v1/files/{id}/content" })
        {
            using var gone = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using var again = await client.DeleteAsync($"/v1/files/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.DoesNotContain(files.StoredFiles(), p => p.Contains(id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_pages_with_limit_after_and_order()
    {
        using var client = files.Host.ClientFor(FilesHost.Key2);
        var uploaded = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            uploaded.Add((string)(await UploadAsync(client, FilesHost.Jsonl(1), purpose: i == 1 ? "user_data" : "batch"))["id"]!);
        }

        var all = (await client.GetFromJsonAsync<JsonObject>("/v1/files"))!;
        var ids = all["data"]!.AsArray().Select(f => (string)f!["id"]!).ToList();
        Assert.Equal(["object", "data", "first_id", "last_id", "has_more"], all.Select(p => p.Key));
        Assert.Equal("list", (string?)all["object"]);
        Assert.Equal(uploaded.AsEnumerable().Reverse(), ids.Where(uploaded.Contains)); // newest first by default
        Assert.False((bool)all["has_more"]!);

        var first = (await client.GetFromJsonAsync<JsonObject>("/v1/files?limit=2&order=asc"))!;
        Assert.Equal(ids.AsEnumerable().Reverse().Take(2), first["data"]!.AsArray().Select(f => (string)f!["id"]!));
        Assert.True((bool)first["has_more"]!);
        Assert.Equal((string?)first["data"]![0]!["id"], (string?)first["first_id"]);
        Assert.Equal((string?)first["data"]![1]!["id"], (string?)first["last_id"]);

        var next = (await client.GetFromJsonAsync<JsonObject>($"/v1/files?limit=2&order=asc&after={first["last_id"]}"))!;
        Assert.Equal(ids.AsEnumerable().Reverse().Skip(2), next["data"]!.AsArray().Select(f => (string)f!["id"]!));
        Assert.False((bool)next["has_more"]!);

        var batchOnly = (await client.GetFromJsonAsync<JsonObject>("/v1/files?purpose=user_data"))!;
        Assert.Equal([uploaded[1]], batchOnly["data"]!.AsArray().Select(f => (string)f!["id"]!));

        var none = (await client.GetFromJsonAsync<JsonObject>("/v1/files?purpose=vision"))!;
        Assert.Equal("""{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}""", none.ToJsonString());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("order=newest", "order")]
    public async Task Bad_list_parameters_are_400_with_the_param(string query, string param)
    {
        using var client = files.Host.ClientFor(FilesHost.Key1);
        using var response = await client.GetAsync($"/v1/files?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["param"]);
    }
}
