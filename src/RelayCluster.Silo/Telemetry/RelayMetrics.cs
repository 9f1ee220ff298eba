using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using RelayCluster.Core.Metering;
using RelayCluster.Upstreams.Resilience;

namespace RelayCluster.Silo.Telemetry;

/// <summary>
/// The relay's own instruments on the <c>RelayCluster</c> meter, created once per host. Each silo reports what it
/// served (a scrape of <c>/metrics</c> is one silo's view; Prometheus sums over silos).
/// <para>
/// Requests, tokens and cost are recorded in one place, <see cref="Settled"/>, called where a request's settlement is
/// handed to the tenant grain to book (<c>AdmittedRequest.BookAsync</c>; for a batch item's end, the chunk grain once
/// the end is committed), which happens exactly once per usage-ledger record: so the counters move by exactly what the
/// ledger books. Not where it is taken: a batch item's end that fails to commit is never booked, and the item runs again. Every label value is a configured name (tenant id, model, provider) or one of a
/// fixed set (lane, status code, ending, reason): never a request id, a key, a prompt or a model name a caller made up
/// (an unknown model is refused before admission, so it never reaches a label).
/// </para>
/// </summary>
/// <remarks>
/// Names follow OpenTelemetry's GenAI semantic conventions where one fits (the latency histograms, with their
/// recommended bucket boundaries); the rest are <c>relay.*</c>. Units are UCUM (<c>s</c>, <c>{token}</c>); cost is in
/// US dollars as an annotation (<c>{USD}</c>, UCUM has no currencies), so Prometheus shows <c>relay_cost_usd_total</c>.
/// Recording costs no allocation: tags go in a <see cref="TagList"/> (inline up to eight) and status codes are boxed once.
/// </remarks>
internal sealed class RelayMetrics
{
    public const string MeterName = "RelayCluster";

    // GenAI semantic conventions' advice for server-side latencies, in seconds; the last two cover long streams.
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68];
    private static readonly double[] FirstTokenBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0];

    private static readonly object?[] BoxedStatus = Enumerable.Range(0, 600).Select(s => (object?)s).ToArray();

    private readonly Counter<long> _requests;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _batchItems;
    private readonly UpDownCounter<long> _subscribers;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _alertAttempts;

    /// <summary>
    /// Registers the one instance (once, whoever asks first: the host, or a test silo that hosts only the batch grains, which
    /// has no upstream providers and so reports no upstream instruments).
    /// </summary>
    public static IServiceCollection AddTo(IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton(sp => new RelayMetrics(sp.GetRequiredService<IMeterFactory>(), sp.GetService<IProviderHealthSource>()));
        return services;
    }

    public RelayMetrics(IMeterFactory meters, IProviderHealthSource? health)
    {
        // From the host's factory, so the meter ends with its host (tests run several hosts in one process).
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>("relay.requests", "{request}",
            "Model calls settled (one per usage-ledger record), by tenant, model, provider, operation, lane, stream, status and ending.");
        _tokens = meter.CreateCounter<long>("relay.tokens", "{token}",
            "Tokens billed, by tenant, model, lane and gen_ai.token.type (input, output; cached is the part of input served from a prompt cache).");
        _cost = meter.CreateCounter<double>("relay.cost.usd", "{USD}", "Cost billed in US dollars, by tenant, model and lane.");
        _duration = meter.CreateHistogram("gen_ai.server.request.duration", "s",
            "Time from admission to the request's settlement, by model, provider, operation, lane, stream and error.type (failures only).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _timeToFirstToken = meter.CreateHistogram("gen_ai.server.time_to_first_token", "s",
            "Streamed calls: time from admission to the first chunk carrying output, by model, provider, operation and lane.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = FirstTokenBuckets });
        _refusals = meter.CreateCounter<long>("relay.admission.refusals", "{request}",
            "Calls the tenant grain refused before any upstream call, by tenant, lane and reason (rpm, tpm, tpm_request_too_large, concurrency, budget, paused, out_of_range).");
        _fallbacks = meter.CreateCounter<long>("relay.upstream.fallbacks", "{fallback}",
            "Targets given up on for the next one in a fallback chain, by the model and provider given up on.");
        _batchItems = meter.CreateCounter<long>("relay.batch.items", "{item}", "Batch items ended, by tenant and outcome (succeeded, failed, expired).");
        _subscribers = meter.CreateUpDownCounter<long>("relay.fanout.subscribers", "{subscriber}", "Stream subscriptions open on this silo's /hubs/streams, by tenant.");
        _messages = meter.CreateCounter<long>("relay.fanout.messages", "{message}", "Stream entries sent to subscribers by this silo, by tenant.");
        _alertAttempts = meter.CreateCounter<long>("relay.alerts.webhook.attempts", "{attempt}",
            "Budget webhook POSTs made by this silo, by tenant, kind (alert, pause) and result (delivered, failed: retried or given up).");

        // Upstream resilience, read from the providers' own counters at collection: nothing on the request path.
        if (health is null)
        {
            return;
        }

        meter.CreateObservableCounter("relay.upstream.attempts", () => PerProvider(health, h => h.Attempts), "{attempt}",
            "Upstream calls made, retries included, by provider.");
        meter.CreateObservableCounter("relay.upstream.retries", () => PerProvider(health, h => h.Retries), "{retry}",
            "Upstream attempts beyond the first of their request, by provider.");
        meter.CreateObservableCounter("relay.upstream.circuit.rejections", () => PerProvider(health, h => h.RejectedByCircuit), "{request}",
            "Calls failed fast by an open circuit breaker without an upstream call, by provider.");
        meter.CreateObservableGauge("relay.upstream.circuit.state", () => CircuitStates(health), "{state}",
            "1 for each provider's current breaker state (closed, open, half_open, isolated), 0 for the others.");
    }

    /// <summary>
    /// Records one settled request: its count, its billed tokens and cost, its duration and (streamed, with output) its
    /// time to first token. <paramref name="lane"/> is <c>interactive</c> or <c>batch</c>; the operation is the record's
    /// endpoint's (<c>chat</c> or <c>embeddings</c>).
    /// </summary>
    public void Settled(UsageRecord record, string lane)
    {
        var operation = record.Endpoint == "/v1/embeddings" ? "embeddings" : "chat";
        var status = record.Status is >= 0 and < 600 ? BoxedStatus[record.Status] : record.Status;
        var stream = record.Stream ? "true" : "false";
        _requests.Add(1, new TagList
        {
            { Tag.Tenant, record.Tenant }, { Tag.Model, record.Model }, { Tag.Provider, record.Provider }, { Tag.Operation, operation },
            { Tag.Lane, lane }, { Tag.Stream, stream }, { Tag.Status, status }, { Tag.Ending, record.Ending },
        });

        var billing = new TagList { { Tag.Tenant, record.Tenant }, { Tag.Model, record.Model }, { Tag.Lane, lane } };
        AddTokens(record.PromptTokens, billing, "input");
        AddTokens(record.CompletionTokens, billing, "output");
        AddTokens(record.CachedTokens ?? 0, billing, "cached");
        if (record.CostNanos > 0)
        {
            _cost.Add(record.CostNanos / 1e9, billing);
        }

        var timing = new TagList
        {
            { Tag.Model, record.Model }, { Tag.Provider, record.Provider }, { Tag.Operation, operation }, { Tag.Lane, lane }, { Tag.Stream, stream },
        };
        if (record.Ending != Endings.Completed)
        {
            timing.Add(Tag.ErrorType, record.Ending);
        }

        _duration.Record(record.LatencyMs / 1000, timing);
        if (record.Stream && record.TimeToFirstTokenMs is { } firstToken)
        {
            _timeToFirstToken.Record(firstToken / 1000, new TagList
            {
                { Tag.Model, record.Model }, { Tag.Provider, record.Provider }, { Tag.Operation, operation }, { Tag.Lane, lane },
            });
        }
    }

    /// <summary>
    /// The stream of one of this meter's instruments labelled by tenant: room for <paramref name="maxSeries"/> label sets
    /// rather than OpenTelemetry's 2,000 (see <see cref="TelemetryPlan"/>). Null (OpenTelemetry's default) for the others,
    /// whose labels (model, provider, operation, lane, ...) stay far below it: the SDK allocates every stream's slots up
    /// front, about 85 bytes each (measured: 3.4 MB more for two instruments at 20,000 than at 2,000).
    /// </summary>
    /// <remarks>
    /// Orleans' per-message instruments (<see cref="IsOrleansPerMessage"/>) are dropped: with no stream the SDK never
    /// enables them, so recording one costs nothing.
    /// </remarks>
    public static MetricStreamConfiguration? Stream(Instrument instrument, int maxSeries) =>
        instrument.Meter.Name == MeterName && TenantInstruments.Contains(instrument.Name)
            ? new MetricStreamConfiguration { CardinalityLimit = maxSeries }
            : IsOrleansPerMessage(instrument) ? MetricStreamConfiguration.Drop
            : null;

    /// <summary>
    /// Orleans instruments recorded for every grain message or directory lookup (sizes of messages sent and received,
    /// the dispatcher's and the inbound queue's counts, local sends, directory lookups): in a 3-silo profile at c=20
    /// recording them was 1.6 % of a silo's CPU (issue 16), for internals no dashboard of the relay reads. Orleans'
    /// other instruments (activations, failures, expired, rejected and rerouted messages, pings, the directory's size
    /// and registrations) stay.
    /// </summary>
    public static bool IsOrleansPerMessage(Instrument instrument) =>
        instrument.Meter.Name == "Microsoft.Orleans"
        && (OrleansPerMessage.Contains(instrument.Name)
            || instrument.Name.StartsWith("orleans-directory-lookups-", StringComparison.Ordinal)
            || instrument.Name.StartsWith("orleans-messaging-processing-", StringComparison.Ordinal));

    private static readonly HashSet<string> OrleansPerMessage = new(StringComparer.Ordinal)
    {
        "orleans-messaging-sent-messages-size", "orleans-messaging-sent-header-size", "orleans-messaging-received-messages-size",
        "orleans-messaging-received-header-size", "orleans-messaging-sent-local",
    };

    private static readonly HashSet<string> TenantInstruments = new(StringComparer.Ordinal)
    {
        "relay.requests", "relay.tokens", "relay.cost.usd", "relay.admission.refusals", "relay.batch.items", "relay.fanout.subscribers",
        "relay.fanout.messages", "relay.alerts.webhook.attempts",
    };

    /// <summary>An admission the tenant grain refused (<paramref name="reason"/> from <see cref="RefusalReasons"/>).</summary>
    public void Refused(string tenantId, string lane, string reason) =>
        _refusals.Add(1, new TagList { { Tag.Tenant, tenantId }, { Tag.Lane, lane }, { Tag.Reason, reason } });

    /// <summary>A target of a fallback chain given up on for the next.</summary>
    public void FellBack(string model, string provider) =>
        _fallbacks.Add(1, new TagList { { Tag.Model, model }, { Tag.Provider, provider } });

    /// <summary>A batch item's end, recorded once (when the chunk commits it).</summary>
    public void BatchItemEnded(string tenantId, string outcome) =>
        _batchItems.Add(1, new TagList { { Tag.Tenant, tenantId }, { Tag.BatchOutcome, outcome } });

    /// <summary>A subscription of the tenant's stream opened (+1) or ended (-1).</summary>
    public void Subscribers(string tenantId, int delta) => _subscribers.Add(delta, new KeyValuePair<string, object?>(Tag.Tenant, tenantId));

    /// <summary>One budget webhook attempt: delivered (a 2xx) or failed (any other answer, a timeout, no connection).</summary>
    public void AlertAttempt(string tenantId, string kind, bool delivered) =>
        _alertAttempts.Add(1, new TagList { { Tag.Tenant, tenantId }, { Tag.AlertKind, kind }, { Tag.Result, delivered ? "delivered" : "failed" } });

    /// <summary>A stream entry sent to one subscriber.</summary>
    public void MessageSent(string tenantId) => _messages.Add(1, new KeyValuePair<string, object?>(Tag.Tenant, tenantId));

    private void AddTokens(long tokens, in TagList billing, string type)
    {
        if (tokens <= 0)
        {
            return;
        }

        var tags = billing;
        tags.Add(Tag.TokenType, type);
        _tokens.Add(tokens, tags);
    }

    private static IEnumerable<Measurement<long>> PerProvider(IProviderHealthSource health, Func<ProviderHealthSnapshot, long> value) =>
        health.GetHealth().Select(h => new Measurement<long>(value(h), new KeyValuePair<string, object?>(Tag.Provider, h.ProviderId)));

    private static IEnumerable<Measurement<int>> CircuitStates(IProviderHealthSource health)
    {
        foreach (var provider in health.GetHealth())
        {
            foreach (var state in CircuitStateNames)
            {
                yield return new Measurement<int>(provider.Circuit == state ? 1 : 0,
                    new KeyValuePair<string, object?>(Tag.Provider, provider.ProviderId), new KeyValuePair<string, object?>(Tag.CircuitState, state));
            }
        }
    }

    /// <summary>The <c>relay.circuit.state</c> values: every name a provider's health may give its breaker.</summary>
    internal static readonly string[] CircuitStateNames = ["closed", "open", "half_open", "isolated"];

    /// <summary>Attribute names: OpenTelemetry's where one exists, else <c>relay.*</c>.</summary>
    internal static class Tag
    {
        public const string Tenant = "relay.tenant";
        public const string Model = "relay.model";
        public const string Provider = "relay.provider";
        public const string Operation = "gen_ai.operation.name";
        public const string Lane = "relay.lane";
        public const string Stream = "relay.stream";
        public const string Status = "http.response.status_code";
        public const string Ending = "relay.ending";
        public const string ErrorType = "error.type";
        public const string TokenType = "gen_ai.token.type";
        public const string Reason = "relay.refusal.reason";
        public const string BatchOutcome = "relay.batch.outcome";
        public const string CircuitState = "relay.circuit.state";
        public const string AlertKind = "relay.alert.kind";
        public const string Result = "relay.result";
    }
}
