using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Refuses to start a deployed relay (the Redis store, or listening beyond loopback) with a weak, placeholder or
/// missing admin key. The embedded demo on loopback keeps its convenience: any key, or one generated per run.
/// </summary>
internal sealed class AdminKeyValidator(IConfiguration configuration) : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var urls = ListenUrls().ToList();
        var exposed = !AdminKeyPolicy.IsLoopbackOnly(urls);
        if (options.Store != "redis" && !exposed)
        {
            return ValidateOptionsResult.Success;
        }

        var why = options.Store == "redis" ? "Relay:Store is 'redis'" : $"the relay listens on {string.Join(", ", urls)}";
        if (options.AdminKeyGenerated)
        {
            return options.Store == "redis"
                ? ValidateOptionsResult.Fail($"Relay:AdminKey is required because {why}: every silo must share one admin key. "
                    + "Set Relay__AdminKey from a secret (for example `openssl rand -hex 24`).")
                : ValidateOptionsResult.Success; // a generated key is strong; it is printed once at start
        }

        return AdminKeyPolicy.Weakness(options.AdminKey!) is { } weakness
            ? ValidateOptionsResult.Fail($"Relay:AdminKey is too weak because {weakness}. Outside the embedded demo ({why}) the admin key must be "
                + $"a random secret of at least {AdminKeyPolicy.MinLength} characters, for example from `openssl rand -hex 24`.")
            : ValidateOptionsResult.Success;
    }

    /// <summary>Addresses Kestrel will listen on: <c>urls</c> (ASPNETCORE_URLS, --urls) and configured Kestrel endpoints.</summary>
    private IEnumerable<string> ListenUrls()
    {
        if (configuration["urls"] is { Length: > 0 } urls)
        {
            yield return urls;
        }

        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is { Length: > 0 } url)
            {
                yield return url;
            }
        }
    }
}
