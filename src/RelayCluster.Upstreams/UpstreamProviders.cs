using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Upstreams.Anthropic;
using RelayCluster.Upstreams.OpenAi;
using RelayCluster.Upstreams.Resilience;
using RelayCluster.Upstreams.Simulator;

namespace RelayCluster.Upstreams;

/// <summary>
/// The configured providers by id, created once at start, each behind its resilience pipeline. The HTTP providers carry
/// the trace context upstream as <c>traceContext</c> says (default: .NET's, propagated).
/// </summary>
public sealed class UpstreamProviders : IProviderHealthSource, IDisposable
{
    private readonly Dictionary<string, ResilientProvider> _providers;

    public UpstreamProviders(IOptions<RelayOptions> options, TimeProvider time, ILoggerFactory? loggers = null, UpstreamTraceContext? traceContext = null)
    {
        var propagate = (traceContext ?? UpstreamTraceContext.Default).Propagate;
        _providers = options.Value.Providers.ToDictionary(
            p => p.Key,
            p => ResilientProvider.For(p.Value.Type switch
            {
                ProviderTypes.OpenAi => (IUpstreamProvider)new OpenAiCompatibleProvider(p.Key, p.Value, time, propagate),
                ProviderTypes.Anthropic => new AnthropicProvider(p.Key, p.Value, time, propagate),
                _ => new SimulatorProvider(p.Key, new SimulatorEngine(p.Value.Simulator, time)),
            }, p.Value, time, loggers?.CreateLogger<ResilientProvider>()),
            StringComparer.Ordinal);
    }

    public IUpstreamProvider Get(string id) => _providers[id];

    public IReadOnlyList<ProviderHealthSnapshot> GetHealth() => [.. _providers.Values.Select(p => p.GetHealth())];

    public void Dispose()
    {
        foreach (var provider in _providers.Values.OfType<IDisposable>())
        {
            provider.Dispose();
        }
    }
}
