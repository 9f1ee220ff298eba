using System.Globalization;

namespace RelayCluster.Bench;

/// <summary>What to load and how hard, from <c>--name value</c> pairs; every value has a default but the URLs.</summary>
internal sealed record BenchSettings
{
    /// <summary>
    /// The relays under test: one (<c>--relay URL</c>, named "relay") or several side by side
    /// (<c>--relays name=URL,name=URL</c>, named "relay (name)"), e.g. the same silo on two stores. A relay may be
    /// several silos of one cluster (<c>name=URL+URL+URL</c>): its requests go to them in turn.
    /// </summary>
    public required IReadOnlyList<(string Name, IReadOnlyList<Uri> Urls)> Relays { get; init; }

    public required Uri DirectUrl { get; init; }

    /// <summary>The bare pass-through proxy in front of the same upstream, if one runs: the control for the relay.</summary>
    public Uri? ProxyUrl { get; init; }

    /// <summary>
    /// The same bare proxy run as several processes (<c>--proxies URL+URL+URL</c>), if they run: a closed-loop target of its own,
    /// "bare proxy ×N", whose requests go to them in turn as to a cluster's silos, so the report can tell what a cluster's
    /// topology costs (more processes sharing the cores) from what the relay's own work costs. Empty = none.
    /// </summary>
    public IReadOnlyList<Uri> ProxyUrls { get; init; } = [];

    public string ApiKey { get; init; } = "sk-bench-key";

    public string RelayModel { get; init; } = "remote-fast";

    public string DirectModel { get; init; } = "mock-fast";

    public string SimulatorModel { get; init; } = "mock-fast";

    public int Rate { get; init; } = 500;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(3);

    public int Rounds { get; init; } = 5;

    public int Concurrency { get; init; } = 64;

    public TimeSpan ClosedDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Longer than the open-loop warm-up: with tiered PGO a fresh relay needs well over 2 s of saturating
    /// load to reach steady state (measured: ~10,700 req/s after 2 s of warm-up, ~22,000 after 15 s, and
    /// ~19,000 after 2 s with DOTNET_TieredPGO=0).
    /// </summary>
    public TimeSpan ClosedWarmup { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The model the closed loop asks the relays for: by default their in-process simulator; the relay model
    /// (<c>--closed-model remote-fast</c>) sends the closed loop through the upstream as well.
    /// </summary>
    public string? ClosedModel { get; init; }

    /// <summary>
    /// Closed-loop rounds: with more than one, every target is warmed up first, then the targets take turns in
    /// rounds (A B C, C B A, …) sharing <see cref="ClosedDuration"/>, as the fixed-rate phase does.
    /// </summary>
    public int ClosedRounds { get; init; } = 1;

    /// <summary>
    /// Runs the closed loop before the fixed-rate phase (<c>--closed-first true</c>): its saturating load finishes the
    /// silos' JIT tiering, which a few seconds of warm-up at a fixed rate leave under way (the tier-1 compiler's thread
    /// then shows in the fixed-rate CPU per request).
    /// </summary>
    public bool ClosedFirst { get; init; }

    /// <summary>Whether the closed loop also runs streaming requests (<c>--closed-streaming true</c>): each target twice.</summary>
    public bool ClosedStreaming { get; init; }

    /// <summary>Whether the bare proxy is a closed-loop target too (<c>--closed-proxy true</c>): the control for CPU per request.</summary>
    public bool ClosedProxy { get; init; }

    /// <summary>
    /// The relays (by name, as in <c>--relays</c>) the fixed-rate phase measures (<c>--open-relays a,b</c>); null = all. The first
    /// relay must be among them (the report compares the others to it).
    /// </summary>
    public IReadOnlySet<string>? OpenRelays { get; init; }

    /// <summary>
    /// Servers whose allocated bytes are read around every window of their own load (<c>--alloc name=URL+URL,…</c>, names as in
    /// <c>--pids</c>), from <c>URL/metrics</c>; see <see cref="AllocMeter"/>.
    /// </summary>
    public IReadOnlyList<(string Name, IReadOnlyList<Uri> Urls)> Alloc { get; init; } = [];

    /// <summary>The bearer token for <c>/metrics</c> (<c>--alloc-key</c>: the silos' admin key).</summary>
    public string? AllocKey { get; init; }

    /// <summary>Whether the fixed-rate phase also runs streaming requests (<c>--streaming false</c> skips them).</summary>
    public bool Streaming { get; init; } = true;

    /// <summary>
    /// Which targets the report judges: the relay's own (default), issue 11's (<c>--verdicts orleans</c>, see <see cref="OrleansVerdicts"/>)
    /// or issue 16's (<c>--verdicts hotpath</c>, see <see cref="HotpathVerdicts"/>).
    /// </summary>
    public string Verdicts { get; init; } = "relay";

    /// <summary>A file the verdict rows are appended to as well (markdown table rows), for a script's summary.</summary>
    public string? Summary { get; init; }

    public string Output { get; init; } = "bench/results/latest.md";

    /// <summary>A Redis (<c>host:port</c>) whose counters are read around every measured window, if one is used.</summary>
    public string? Redis { get; init; }

    /// <summary>
    /// The Redis store's Lua scripts (RelayCluster.Redis.dll, or a directory of .lua files), to name the
    /// scripts a trace sees by their SHA-1.
    /// </summary>
    public string? RedisScripts { get; init; }

    /// <summary>How long each relay is traced with MONITOR at the end of the run, at the fixed rate (0 = no trace).</summary>
    public TimeSpan TraceDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Processes whose CPU time the report shows, as <c>name=pid,name=pid</c>.</summary>
    public IReadOnlyList<(string Name, int Pid)> Processes { get; init; } = [];

    /// <summary>Free text for the report: SDK version, upstream flags, anything the script knows.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public static BenchSettings Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var notes = new List<string>();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Expected --name value, got '{args[i]}'.");
            }

            if (args[i] == "--note")
            {
                notes.Add(args[i + 1]);
            }
            else
            {
                values[args[i][2..]] = args[i + 1];
            }
        }

        string Get(string name, string fallback) => values.Remove(name, out var v) ? v : fallback;
        int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        TimeSpan Seconds(string name, TimeSpan fallback) => TimeSpan.FromSeconds(double.Parse(Get(name, fallback.TotalSeconds.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture));
        Uri Url(string name) => values.Remove(name, out var v)
            ? new Uri(v.TrimEnd('/') + "/", UriKind.Absolute)
            : throw new ArgumentException($"--{name} is required.");

        IReadOnlyList<(string, IReadOnlyList<Uri>)> relays = values.Remove("relays", out var list)
            ? [.. ParsePairs(list).Select(p => ($"{Report.Relay} ({p.Name})", Urls(p.Value)))]
            : [(Report.Relay, [Url("relay")])];
        var defaults = new BenchSettings { Relays = relays, DirectUrl = Url("direct"), ProxyUrl = values.ContainsKey("proxy") ? Url("proxy") : null };
        var settings = defaults with
        {
            ApiKey = Get("key", defaults.ApiKey),
            RelayModel = Get("relay-model", defaults.RelayModel),
            DirectModel = Get("direct-model", defaults.DirectModel),
            SimulatorModel = Get("sim-model", defaults.SimulatorModel),
            Rate = Int("rate", defaults.Rate),
            Duration = Seconds("duration", defaults.Duration),
            Warmup = Seconds("warmup", defaults.Warmup),
            Rounds = Int("rounds", defaults.Rounds),
            Concurrency = Int("concurrency", defaults.Concurrency),
            ClosedDuration = Seconds("closed-duration", defaults.ClosedDuration),
            ClosedWarmup = Seconds("closed-warmup", defaults.ClosedWarmup),
            Output = Get("out", defaults.Output),
            Redis = values.Remove("redis", out var redis) ? redis : null,
            RedisScripts = values.Remove("redis-scripts", out var scripts) ? scripts : null,
            TraceDuration = Seconds("trace-duration", defaults.TraceDuration),
            ClosedModel = values.Remove("closed-model", out var closedModel) ? closedModel : null,
            ClosedRounds = Int("closed-rounds", defaults.ClosedRounds),
            Streaming = bool.Parse(Get("streaming", "true")),
            ClosedFirst = bool.Parse(Get("closed-first", "false")),
            ClosedStreaming = bool.Parse(Get("closed-streaming", "false")),
            ClosedProxy = bool.Parse(Get("closed-proxy", "false")),
            ProxyUrls = values.Remove("proxies", out var proxies) ? Urls(proxies) : [],
            OpenRelays = values.Remove("open-relays", out var open)
                ? open.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => $"{Report.Relay} ({n})").ToHashSet(StringComparer.Ordinal)
                : null,
            Alloc = [.. ParsePairs(Get("alloc", "")).Select(p => (p.Name, (IReadOnlyList<Uri>)Urls(p.Value)))],
            AllocKey = values.Remove("alloc-key", out var allocKey) ? allocKey : null,
            Verdicts = Get("verdicts", defaults.Verdicts),
            Summary = values.Remove("summary", out var summary) ? summary : null,
            Processes = ParseProcesses(Get("pids", "")),
            Notes = notes,
        };
        if (values.Count > 0)
        {
            throw new ArgumentException($"Unknown option(s): {string.Join(", ", values.Keys.Select(k => "--" + k))}.");
        }

        return settings;
    }

    /// <summary><c>name=pid,name=pid+pid</c>: several pids under one name (a cluster's silos) are counted together.</summary>
    private static List<(string Name, int Pid)> ParseProcesses(string text) =>
        [.. ParsePairs(text).SelectMany(p => p.Value.Split('+').Select(pid => (p.Name, int.Parse(pid, CultureInfo.InvariantCulture))))];

    private static Uri[] Urls(string text) =>
        [.. text.Split('+').Select(u => new Uri(u.TrimEnd('/') + "/", UriKind.Absolute))];

    /// <summary><c>name=value,name=value</c>; a value may contain '=' but no ','.</summary>
    private static IEnumerable<(string Name, string Value)> ParsePairs(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(p => p.Length == 2 ? (p[0], p[1]) : throw new ArgumentException($"Expected name=value, got '{string.Join('=', p)}'."));
}
