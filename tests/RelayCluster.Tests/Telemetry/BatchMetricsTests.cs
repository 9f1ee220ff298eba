using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using RelayCluster.Silo.Batches;
using RelayCluster.Silo.Hosting;
using RelayCluster.Tests.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Telemetry;

/// <summary>
/// Batch items on <c>/metrics</c> when a chunk cannot commit an item's end: the attempt's usage is never booked (the item
/// runs again in the chunk's next activation), so the counters must count the run that is booked, once, as the ledger does.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class BatchMetricsTests
{
    [Fact]
    public async Task An_item_whose_end_failed_to_commit_is_counted_once_as_the_ledger_books_it()
    {
        var tenant = "bm" + Guid.NewGuid().ToString("N")[..8];
        var key = "sk-batch-metrics-" + Guid.NewGuid().ToString("N")[..12];
        var storage = new FailingChunkCommits();
        using var files = new TempDirectory();
        using var work = new TempDirectory();
        using var host = new RelayHost(RelayHost.SimulatorSettings(
            ($"Relay:Tenants:{tenant}:Keys:0", key), ("Relay:Files:Path", files.Path), ("Relay:Batches:WorkPath", work.Path),
            ("Relay:Batches:LeaseSeconds", "1")), replaceServices: storage.Apply);
        using var client = host.ClientFor(key);
        using var admin = host.ClientFor(RelayHost.AdminKey);

        var line = new JsonObject
        {
            ["custom_id"] = "only", ["method"] = "POST", ["url"] = "/v1/chat/completions",
            ["body"] = new JsonObject
            {
                ["model"] = "mock-fast", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "counted once" }),
            },
        }.ToJsonString();
        using var upload = await client.PostAsync("/v1/files", FilesHost.Upload(Encoding.UTF8.GetBytes(line + "\n"), "input.jsonl", "batch"));
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        var fileId = (string)(await upload.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var create = await client.PostAsync("/v1/batches",
            RelayHost.Json(new { input_file_id = fileId, endpoint = "/v1/chat/completions", completion_window = "24h" }));
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        var id = (string)(await create.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var batch = (await Eventually.WaitAsync(
            async () => (await client.GetFromJsonAsync<JsonObject>($"/v1/batches/{id}"))!,
            b => (string?)b["status"] is "completed" or "failed" or "expired" or "cancelled", TimeSpan.FromSeconds(30)))!;
        Assert.True((string?)batch["status"] == "completed", batch.ToJsonString());
        Assert.Equal(1, storage.Failed); // the first end's commit failed: the item ran twice

        // The failed attempt's reservation stays in flight until it expires (nothing booked it); the run that committed is booked.
        var usage = (await Eventually.WaitAsync(() => host.UsageAsync(tenant), u => (long)u["requests"]! >= 1))!;
        Assert.Equal(1, (long)usage["requests"]!);
        var scraped = (await Eventually.WaitAsync(() => MetricsTests.ScrapeAsync(admin),
            s => s.Sum("relay_batch_items_total", ("relay_tenant", tenant)) >= 1))!;
        Assert.Equal((long)usage["requests"]!, scraped.Sum("relay_requests_total", ("relay_tenant", tenant)));
        Assert.Equal((long)usage["prompt_tokens"]!, scraped.Sum("relay_tokens_total", ("relay_tenant", tenant), ("gen_ai_token_type", "input")));
        Assert.Equal(1, scraped.Sum("relay_batch_items_total", ("relay_tenant", tenant), ("relay_batch_outcome", "succeeded")));
    }

    /// <summary>The relay's grain storage, but the first write of a chunk holding an unbooked item end fails.</summary>
    private sealed class FailingChunkCommits
    {
        private int _failed;

        public int Failed => Volatile.Read(ref _failed);

        public void Apply(IServiceCollection services)
        {
            var original = services.Last(d => d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, OrleansHosting.GrainStorage));
            services.AddKeyedSingleton<IGrainStorage>(OrleansHosting.GrainStorage,
                (sp, name) => new Failing((IGrainStorage)original.KeyedImplementationFactory!(sp, name), this));
        }

        private sealed class Failing(IGrainStorage inner, FailingChunkCommits owner) : IGrainStorage
        {
            public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

            public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
                grainState.State is ChunkRecord chunk && chunk.Ends.Values.Any(e => e.Unbooked is not null) && Interlocked.CompareExchange(ref owner._failed, 1, 0) == 0
                    ? throw new IOException("Injected: the chunk's commit fails once.")
                    : inner.WriteStateAsync(stateName, grainId, grainState);

            public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
        }
    }
}
