using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RelayCluster.Tests.Infrastructure;

/// <summary>
/// A webhook receiver on a free loopback port, as a team's alerting endpoint (or a Slack incoming webhook) would be: it
/// records every POST to <see cref="Url"/> (a path holding a secret, as Slack's does) and answers 200, or 500 while
/// <see cref="Fail"/> says so for that delivery.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(JsonObject Body, string? IdempotencyKey, DateTime At)> _posts = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>The URL to configure; its path is the secret the relay must never log or show.</summary>
    public string Url { get; private set; } = "";

    public const string Secret = "T0000/B0000/s3cr3t-webhook-token";

    /// <summary>Whether to fail (500) a POST, given its body and how many POSTs with its id came before it.</summary>
    public Func<JsonObject, int, bool> Fail { get; set; } = (_, _) => false;

    public IReadOnlyList<(JsonObject Body, string? IdempotencyKey, DateTime At)> Posts => [.. _posts];

    /// <summary>The POSTs answered 200.</summary>
    public List<JsonObject> Delivered { get; } = [];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hooks/" + Secret, async (HttpContext context) =>
        {
            var body = (JsonObject)(await JsonNode.ParseAsync(context.Request.Body))!;
            int before;
            lock (receiver.Delivered)
            {
                before = receiver._posts.Count(p => (string?)p.Body["id"] == (string?)body["id"]);
                receiver._posts.Enqueue((body, context.Request.Headers["Idempotency-Key"].FirstOrDefault(), DateTime.UtcNow));
                if (receiver.Fail(body, before))
                {
                    return Results.StatusCode(500);
                }

                receiver.Delivered.Add(body);
            }

            return Results.Ok();
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hooks/" + Secret;
        return receiver;
    }

    /// <summary>The deliveries (200s) of one type so far (<c>budget.alert</c> or <c>budget.pause</c>).</summary>
    public List<JsonObject> DeliveredOf(string type)
    {
        lock (Delivered)
        {
            return [.. Delivered.Where(b => (string?)b["type"] == type)];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
