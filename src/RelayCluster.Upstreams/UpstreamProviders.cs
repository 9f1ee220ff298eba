using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Upstreams.OpenAi;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.Upstreams;

/// <summary>The configured providers by id, created once at start.</summary>
public sealed class UpstreamProviders : IDisposable
{
    private readonly Dictionary<string, IUpstreamProvider> _providers;

    public UpstreamProviders(IOptions<RelayOptions> options, TimeProvider time)
    {
        _providers = options.Value.Providers.ToDictionary(
            p => p.Key,
            p => p.Value.Type == ProviderTypes.OpenAi
                ? (IUpstreamProvider)new OpenAiCompatibleProvider(p.Key, p.Value)
                : new SimulatorProvider(p.Key, new SimulatorEngine(p.Value.Simulator, time)),
            StringComparer.Ordinal);
    }

    public IUpstreamProvider Get(string id) => _providers[id];

    public void Dispose()
    {
        foreach (var provider in _providers.Values.OfType<IDisposable>())
        {
            provider.Dispose();
        }
    }
}
