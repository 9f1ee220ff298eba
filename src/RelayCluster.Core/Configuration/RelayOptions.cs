namespace RelayCluster.Core.Configuration;

/// <summary>
/// The whole <c>Relay</c> configuration section. Mutable classes because the configuration binder fills
/// them; nothing mutates them after start-up (the validator runs once, at start).
/// </summary>
public sealed class RelayOptions
{
    public const string SectionName = "Relay";

    /// <summary><c>memory</c> (embedded default) or <c>redis</c> (the cluster, a later capability).</summary>
    public string Store { get; set; } = "memory";

    /// <summary>StackExchange.Redis connection string (<c>host:port,…</c>) used when <see cref="Store"/> is <c>redis</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>
    /// How long a reservation (budget hold and concurrency slot) lives without renewal. A silo renews its
    /// live requests; a dead silo's reservations are reclaimed after this.
    /// </summary>
    public int ReservationSeconds { get; set; } = 120;

    /// <summary>
    /// While the store is unreachable, serve tenants whose configuration sets no budget without rate limits
    /// (their usage is booked when the store returns). Budgets always fail closed. Off by default.
    /// </summary>
    public bool FailOpenRateLimits { get; set; }

    /// <summary>Bearer key for /admin. When unset a random one is generated and printed at start-up.</summary>
    public string? AdminKey { get; set; }

    /// <summary>Key of the demo tenant created when no tenant is configured. Random when unset.</summary>
    public string? DemoKey { get; set; }

    public Dictionary<string, ProviderOptions> Providers { get; set; } = new(StringComparer.Ordinal);

    public Dictionary<string, ModelOptions> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Alias → model. A key ending in <c>*</c> is a prefix pattern; the longest prefix wins.</summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Model used when a requested name matches nothing. Null means 404 <c>model_not_found</c>.</summary>
    public string? DefaultModel { get; set; }

    public Dictionary<string, TenantOptions> Tenants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Routes by model name: fallback chains, weighted splits, lanes, shadow and named alternatives. They seed
    /// the route store once; from then on the admin API owns them (as with tenants).
    /// </summary>
    public Dictionary<string, Routing.RouteDefinition> Routes { get; set; } = new(StringComparer.Ordinal);

    public ShadowOptions Shadow { get; set; } = new();

    public RequestOptions Requests { get; set; } = new();

    public UsageLogOptions UsageLog { get; set; } = new();

    public BatchOptions Batches { get; set; } = new();

    public FilesOptions Files { get; set; } = new();

    public SyncBatchOptions SyncBatch { get; set; } = new();

    public AlertOptions Alerts { get; set; } = new();

    /// <summary>True when <see cref="AdminKey"/> was generated at start (not bound from configuration).</summary>
    public bool AdminKeyGenerated { get; internal set; }

    /// <summary>True when the demo tenant was created because no tenant was configured.</summary>
    public bool DemoTenantCreated { get; internal set; }
}

public sealed class ProviderOptions
{
    /// <summary><c>simulator</c> or <c>openai</c> (any OpenAI-compatible API).</summary>
    public string Type { get; set; } = "";

    public string? BaseUrl { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>Bound on connecting to the upstream; streams themselves have no total timeout.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>Behaviour of a <c>simulator</c> provider (requests can override it, see the README).</summary>
    public SimulatorOptions Simulator { get; set; } = new();

    public AnthropicOptions Anthropic { get; set; } = new();

    public ResilienceOptions Resilience { get; set; } = new();
}

public sealed class SimulatorOptions
{
    public int TimeToFirstTokenMs { get; set; }

    public int TokenIntervalMs { get; set; }

    public int OutputTokens { get; set; } = 16;

    public int EmbeddingDimensions { get; set; } = 64;
}

public sealed class ModelOptions
{
    public string Provider { get; set; } = "";

    /// <summary>Name sent upstream; defaults to the model's own name.</summary>
    public string? UpstreamModel { get; set; }

    public decimal InputPerMTok { get; set; }

    public decimal OutputPerMTok { get; set; }

    /// <summary>
    /// Price of cached input (OpenAI's <c>prompt_tokens_details.cached_tokens</c>, a part of the prompt) per million
    /// tokens; unset: cached input costs <see cref="InputPerMTok"/> like the rest of the prompt.
    /// </summary>
    public decimal? CachedInputPerMTok { get; set; }

    /// <summary>
    /// The prompt's tokenizer for reservations: <c>o200k_base</c>, <c>cl100k_base</c>, or <c>bytes</c> (a high estimate
    /// from the text's size, for models of other providers). Unset: chosen from the upstream model's name as tiktoken does.
    /// </summary>
    public string? Tokenizer { get; set; }

    /// <summary>
    /// The model's image tokens over gpt-4o's (unset: by name, e.g. gpt-4o-mini 33.34; see <c>PromptProfile</c>). Setting it
    /// applies OpenAI's image formulas to a model whose name OpenAI's are not (a deployment name): set it for such a model.
    /// </summary>
    public double? ImageTokenMultiplier { get; set; }

    /// <summary>The most tokens one image may cost on this model (unset: by name; the bound of an image of unknown size).</summary>
    public int? ImageTokensMax { get; set; }

    /// <summary>The most tokens one <c>file</c> content part (a PDF) may cost (unset: 100 pages × (image worst case + 4,000)).</summary>
    public long? FileTokensMax { get; set; }

    /// <summary>The most tokens a second of <c>input_audio</c> may cost (unset: 32).</summary>
    public int? AudioTokensPerSecond { get; set; }

    /// <summary>Output cap used for the worst-case reservation when a request sets no max_tokens.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>
    /// The model's output limit: a request whose <c>max_tokens</c> or <c>max_completion_tokens</c> is above it gets a
    /// 400 naming the parameter, as OpenAI answers. Unset: <see cref="StandardMaxOutputTokens"/>, or
    /// <see cref="DefaultMaxOutputTokens"/> if that is larger. At most <see cref="CeilingMaxOutputTokens"/>.
    /// </summary>
    public int? MaxOutputTokens { get; set; }

    /// <summary>The output limit of a model that configures none (that of today's larger hosted chat models).</summary>
    public const int StandardMaxOutputTokens = 32_768;

    /// <summary>The largest output limit a model may configure; keeps every worst case far from overflow.</summary>
    public const int CeilingMaxOutputTokens = 10_000_000;

    /// <summary>The highest price per million tokens a model may configure (keeps cost arithmetic far from overflow).</summary>
    public const decimal CeilingPricePerMTok = 1_000_000m;

    /// <summary>The output limit in force: <see cref="MaxOutputTokens"/> or its default.</summary>
    public int OutputLimit => MaxOutputTokens ?? Math.Max(StandardMaxOutputTokens, DefaultMaxOutputTokens);

    /// <summary>Unix seconds shown as <c>created</c> in /v1/models.</summary>
    public long Created { get; set; } = 1_700_000_000;

    public string OwnedBy { get; set; } = "relaycluster";

    /// <summary>
    /// <c>chat</c> or <c>embeddings</c>: the endpoint this model serves; a call on the other is a 400. Unset: inferred
    /// from the names (see <see cref="ModelEndpoints.Of"/>: <c>embeddings</c> when the model's or upstream name
    /// contains "embed", else <c>chat</c>).
    /// </summary>
    public string? Endpoint { get; set; }
}

public sealed class TenantOptions
{
    public List<string> Keys { get; set; } = [];

    /// <summary>Null or absent means unlimited; the same for every limit below.</summary>
    public int? RequestsPerMinute { get; set; }

    public int? TokensPerMinute { get; set; }

    public int? MaxConcurrent { get; set; }

    public decimal? MonthlyBudgetUsd { get; set; }

    /// <summary>Model names or prefix patterns (<c>mock-*</c>, <c>*</c>) this tenant may use.</summary>
    public List<string> Models { get; set; } = [];

    /// <summary>Fraction of the monthly budget (0–1) whose crossing sends a <c>budget.alert</c> webhook; 0 is off; unset: <c>Relay:Alerts:AlertThreshold</c>.</summary>
    public double? AlertThreshold { get; set; }

    /// <summary>Fraction of the monthly budget (0–1) whose crossing pauses the tenant (and sends <c>budget.pause</c>); 0 is off; unset: <c>Relay:Alerts:PauseThreshold</c>.</summary>
    public double? PauseThreshold { get; set; }

    /// <summary>This tenant's alert webhook (a secret: never logged, shown redacted); unset: <c>Relay:Alerts:WebhookUrl</c>.</summary>
    public string? AlertWebhookUrl { get; set; }

    /// <summary>This tenant's file storage limit in bytes (not unlimited when null: null takes <c>Relay:Files:MaxBytesPerTenant</c>).</summary>
    public long? MaxFileBytes { get; set; }
}

public sealed class RequestOptions
{
    /// <summary>Bodies above this get 413 before they are read whole.</summary>
    public long MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>An SSE comment is sent after this long without upstream data, so idle proxies keep the stream.</summary>
    public double HeartbeatSeconds { get; set; } = 5;

    /// <summary>The default of <see cref="MaxResponseBytes"/>: 64 MiB.</summary>
    public const long DefaultMaxResponseBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Most bytes of upstream answer the relay holds for one non-streamed call (a chat completion, embeddings, a batch
    /// item), and for the answers of one <c>POST /v1/batch</c> together. Past it the call ends with 502
    /// <c>upstream_response_too_large</c> (a /v1/batch request: <c>response_too_large</c>). 64 MiB holds OpenAI's
    /// largest embeddings answer in base64 (2048 inputs × 3072 dimensions ≈ 34 MB), the SDKs' default encoding; the
    /// same answer as float JSON (≈ 130 MB) does not, and needs fewer inputs per call or a larger value here.
    /// </summary>
    public long MaxResponseBytes { get; set; } = DefaultMaxResponseBytes;
}

public sealed class UsageLogOptions
{
    /// <summary>Directory of the JSON-lines usage log, one file per calendar month (UTC).</summary>
    public string Path { get; set; } = "data/usage";
}

/// <summary>How shadow copies run: off the request path, bounded, dropped when saturated.</summary>
public sealed class ShadowOptions
{
    /// <summary>Shadow calls in flight per silo; a sampled request beyond this is not shadowed (counted as dropped).</summary>
    public int MaxConcurrent { get; set; } = 8;

    /// <summary>Longest a shadow call may take before it is abandoned.</summary>
    public double TimeoutSeconds { get; set; } = 60;

    /// <summary>Comparisons kept per route for the admin API.</summary>
    public int Window { get; set; } = 100;
}
