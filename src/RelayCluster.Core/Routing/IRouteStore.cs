using System.Collections.Concurrent;

namespace RelayCluster.Core.Routing;

/// <summary>
/// Where routes live (model name → route JSON), shared by every silo of a cluster. Writes announce
/// themselves through <see cref="Changed"/> on every silo, which then reloads its route table.
/// </summary>
public interface IRouteStore
{
    event Action? Changed;

    Task<IReadOnlyDictionary<string, string>> LoadAllAsync();

    /// <summary>Stores the route only if the model has none yet (configuration seeds once). True if stored.</summary>
    Task<bool> SeedAsync(string model, string json);

    Task SetAsync(string model, string json);

    /// <summary>Removes the model's route. True if it had one.</summary>
    Task<bool> DeleteAsync(string model);
}

/// <summary>The embedded store: one dictionary, changes announced in-process.</summary>
public sealed class MemoryRouteStore : IRouteStore
{
    private readonly ConcurrentDictionary<string, string> _routes = new(StringComparer.Ordinal);

    public event Action? Changed;

    public Task<IReadOnlyDictionary<string, string>> LoadAllAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>(_routes, StringComparer.Ordinal));

    public Task<bool> SeedAsync(string model, string json) => Announce(_routes.TryAdd(model, json));

    public Task SetAsync(string model, string json)
    {
        _routes[model] = json;
        return Announce(true);
    }

    public Task<bool> DeleteAsync(string model) => Announce(_routes.TryRemove(model, out _));

    private Task<bool> Announce(bool changed)
    {
        if (changed)
        {
            Changed?.Invoke();
        }

        return Task.FromResult(changed);
    }
}
