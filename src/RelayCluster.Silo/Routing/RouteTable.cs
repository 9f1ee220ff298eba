using RelayCluster.Core.Configuration;
using RelayCluster.Core.Routing;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Routing;

/// <summary>
/// This silo's copy of the routes, read on the hot path without a store round trip. Any write on any silo
/// announces itself (pub/sub with Redis) and every silo reloads the whole table, which is small; reloads
/// that overlap are applied in the order they started, so an older read never replaces a newer one.
/// </summary>
/// <remarks>
/// At start the configured routes seed the store once (a model the store already routes is left alone, so
/// admin changes survive restarts), then the table loads. If the store is down at start, the configured
/// routes serve until it answers.
/// </remarks>
internal sealed partial class RouteTable : IHostedService
{
    private readonly RelayOptions _options;
    private readonly ModelRouter _router;
    private readonly IRouteStore _store;
    private readonly ILogger<RouteTable> _logger;
    private readonly Lock _applyLock = new();
    private Snapshot _snapshot;
    private long _ticket;
    private long _applied;
    private int _version;
    private int _reloading;

    public RouteTable(RelayOptions options, ModelRouter router, IRouteStore store, ILogger<RouteTable> logger)
    {
        _options = options;
        _router = router;
        _store = store;
        _logger = logger;
        _snapshot = Build(options.Routes.ToDictionary(r => r.Key, r => r.Value.Normalize().ToJson(), StringComparer.Ordinal));
        store.Changed += OnChanged;
    }

    /// <summary>The compiled route of a model name, or null when it has none.</summary>
    public CompiledRoute? Find(string model) => _snapshot.Compiled.GetValueOrDefault(model);

    /// <summary>Every stored route, normalized, by model name.</summary>
    public IReadOnlyDictionary<string, RouteDefinition> Definitions => _snapshot.Definitions;

    /// <summary>The route configuration gives a model (what a delete goes back to), or null.</summary>
    public RouteDefinition? Configured(string model) => _options.Routes.TryGetValue(model, out var route) ? route.Normalize() : null;

    public bool IsModel(string name) => _options.Models.ContainsKey(name);

    /// <summary>The names this silo serves a route under (every valid stored route).</summary>
    public IEnumerable<string> Routed => _snapshot.Compiled.Keys;

    /// <summary>The endpoint kind of a configured model, or null for a name that is none.</summary>
    public string? EndpointOf(string name) => _router.Configured(name)?.Endpoint;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var (model, route) in _options.Routes)
            {
                await _store.SeedAsync(model, route.Normalize().ToJson());
            }

            await ReloadAsync();
        }
        catch (StoreUnavailableException ex)
        {
            Log.LoadFailed(_logger, ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Reads every route from the store and swaps the table, unless a later read was applied first.</summary>
    public async Task ReloadAsync()
    {
        var ticket = Interlocked.Increment(ref _ticket);
        var snapshot = Build(await _store.LoadAllAsync());
        lock (_applyLock)
        {
            if (ticket > _applied)
            {
                _applied = ticket;
                _snapshot = snapshot;
            }
        }
    }

    private void OnChanged()
    {
        Interlocked.Increment(ref _version);
        if (Interlocked.Exchange(ref _reloading, 1) == 0)
        {
            _ = Task.Run(ReloadUntilCurrentAsync);
        }
    }

    /// <summary>One reload loop per silo: changes that arrive during a reload cause one more, not one each.</summary>
    private async Task ReloadUntilCurrentAsync()
    {
        while (true)
        {
            var seen = Volatile.Read(ref _version);
            try
            {
                await ReloadAsync();
            }
            catch (StoreUnavailableException ex)
            {
                Log.LoadFailed(_logger, ex); // the reconnection notice triggers the next reload
            }

            Volatile.Write(ref _reloading, 0);
            if (Volatile.Read(ref _version) == seen || Interlocked.Exchange(ref _reloading, 1) != 0)
            {
                return;
            }
        }
    }

    private Snapshot Build(IReadOnlyDictionary<string, string> stored)
    {
        var definitions = new Dictionary<string, RouteDefinition>(StringComparer.Ordinal);
        var compiled = new Dictionary<string, CompiledRoute>(StringComparer.Ordinal);
        foreach (var (model, json) in stored)
        {
            var route = RouteDefinition.Parse(json)?.Normalize();
            if (route is null || RouteValidator.Problems(route, IsModel).Count != 0 || RouteValidator.EndpointProblems(route, EndpointOf).Count != 0)
            {
                // Written by a silo whose configuration knows other models: this silo cannot serve it.
                Log.RouteSkipped(_logger, model);
                continue;
            }

            definitions[model] = route;
            compiled[model] = CompiledRoute.Compile(model, route, name => _router.Resolve(name)!);
        }

        return new Snapshot(definitions, compiled);
    }

    private sealed record Snapshot(Dictionary<string, RouteDefinition> Definitions, Dictionary<string, CompiledRoute> Compiled);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Error, Message = "Could not load routes: the store is unavailable")]
        public static partial void LoadFailed(ILogger logger, Exception exception);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Route of {Model} names models this silo does not know; it is not served here")]
        public static partial void RouteSkipped(ILogger logger, string model);
    }
}
