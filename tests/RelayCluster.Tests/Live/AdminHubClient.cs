using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR.Client;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Live;

/// <summary>
/// The admin hub as a console uses it, with the .NET SignalR client: a token from <c>POST /admin/console/token</c>,
/// the snapshots, and every pushed message recorded (with when it arrived) and merged into the latest row per id.
/// </summary>
internal sealed class AdminHubClient : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private AdminHubClient(HubConnection connection)
    {
        _connection = connection;
        connection.On<JsonElement>("tenants", rows => Received("tenants", rows, Tenants));
        connection.On<JsonElement>("batches", rows => Received("batches", rows, Batches));
        connection.On<string[]>("tenantsRemoved", ids =>
        {
            Messages.Enqueue(("tenantsRemoved", _clock.Elapsed, ids.Length));
            foreach (var id in ids)
            {
                Removed.Enqueue(id);
                Tenants.TryRemove(id, out _);
            }
        });
    }

    /// <summary>Every message: its name, when it arrived, how many rows it carried.</summary>
    public ConcurrentQueue<(string Name, TimeSpan At, int Rows)> Messages { get; } = new();

    /// <summary>The latest row of each tenant: the snapshot's, then the pushed ones.</summary>
    public ConcurrentDictionary<string, JsonObject> Tenants { get; } = new();

    public ConcurrentDictionary<string, JsonObject> Batches { get; } = new();

    public ConcurrentQueue<string> Removed { get; } = new();

    /// <summary>A new admin token from the host.</summary>
    public static async Task<string> TokenAsync(Uri relay)
    {
        using var admin = new HttpClient { BaseAddress = relay };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", RelayHost.AdminKey);
        using var response = await admin.PostAsync("/admin/console/token", null);
        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("admin.token", (string?)body["object"]);
        return (string)body["token"]!;
    }

    public static async Task<AdminHubClient> ConnectAsync(Uri relay, string? token = null)
    {
        token ??= await TokenAsync(relay);
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(relay, "/hubs/admin"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        var client = new AdminHubClient(connection);
        await connection.StartAsync();
        return client;
    }

    public async Task<JsonArray> WatchTenantsAsync()
    {
        var rows = JsonNode.Parse((await _connection.InvokeAsync<JsonElement>("WatchTenants")).GetRawText())!.AsArray();
        foreach (var row in rows)
        {
            Tenants[(string)row!["id"]!] = row.DeepClone().AsObject();
        }

        return rows;
    }

    public async Task<JsonArray> WatchBatchesAsync()
    {
        var rows = JsonNode.Parse((await _connection.InvokeAsync<JsonElement>("WatchBatches")).GetRawText())!.AsArray();
        foreach (var row in rows)
        {
            Batches[(string)row!["id"]!] = row.DeepClone().AsObject();
        }

        return rows;
    }

    public Task UnwatchTenantsAsync() => _connection.InvokeAsync("UnwatchTenants");

    /// <summary>Waits (polling, with a deadline) until the latest row of <paramref name="id"/> satisfies <paramref name="done"/>; returns it, or the last seen.</summary>
    public static async Task<JsonObject?> WaitForAsync(ConcurrentDictionary<string, JsonObject> rows, string id, Func<JsonObject, bool> done, TimeSpan? timeout = null) =>
        await Eventually.WaitAsync(() => Task.FromResult(rows.GetValueOrDefault(id)), r => r is not null && done(r), timeout ?? TimeSpan.FromSeconds(20));

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private void Received(string name, JsonElement rows, ConcurrentDictionary<string, JsonObject> into)
    {
        var array = JsonNode.Parse(rows.GetRawText())!.AsArray();
        Messages.Enqueue((name, _clock.Elapsed, array.Count));
        foreach (var row in array)
        {
            var id = (string)row!["id"]!;
            var incoming = row.DeepClone().AsObject();
            into.AddOrUpdate(id, incoming, (_, current) =>
                current["updated_at"] is { } at && incoming["updated_at"] is { } next && (long)next < (long)at ? current : incoming);
        }
    }
}
