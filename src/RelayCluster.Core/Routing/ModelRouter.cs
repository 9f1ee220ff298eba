using RelayCluster.Core.Configuration;

namespace RelayCluster.Core.Routing;

/// <summary>
/// Resolves the model a caller names: a configured model, then an exact alias, then the longest
/// matching prefix alias (<c>gpt-4-*</c>), then <c>DefaultModel</c>. Nothing else: a model is never
/// substituted silently unless the operator configured a default.
/// </summary>
public sealed class ModelRouter
{
    private readonly Dictionary<string, ModelRoute> _models;
    private readonly Dictionary<string, string> _exactAliases;
    private readonly (string Prefix, string Target)[] _prefixAliases;
    private readonly string? _defaultModel;

    public ModelRouter(RelayOptions options)
    {
        _models = options.Models.ToDictionary(m => m.Key, m => ModelRoute.From(m.Key, m.Value), StringComparer.Ordinal);
        _exactAliases = options.Aliases.Where(a => !a.Key.EndsWith('*')).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        _prefixAliases = options.Aliases.Where(a => a.Key.EndsWith('*'))
            .Select(a => (Prefix: a.Key[..^1], Target: a.Value))
            .OrderByDescending(a => a.Prefix.Length)
            .ToArray();
        _defaultModel = options.DefaultModel;
    }

    public IEnumerable<ModelRoute> Models => _models.Values;

    /// <summary>The exact (non-prefix) alias names.</summary>
    public IEnumerable<string> ExactAliases => _exactAliases.Keys;

    /// <summary>The configured model of exactly this name (no alias, no default), or null.</summary>
    public ModelRoute? Configured(string name) => _models.GetValueOrDefault(name);

    public ModelRoute? Resolve(string requested)
    {
        if (_models.TryGetValue(requested, out var direct))
        {
            return direct;
        }

        if (_exactAliases.TryGetValue(requested, out var aliased))
        {
            return _models[aliased];
        }

        foreach (var (prefix, target) in _prefixAliases)
        {
            if (requested.StartsWith(prefix, StringComparison.Ordinal))
            {
                return _models[target];
            }
        }

        return _defaultModel is null ? null : _models[_defaultModel];
    }
}
