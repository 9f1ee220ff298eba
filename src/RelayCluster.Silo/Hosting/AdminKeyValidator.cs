using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Refuses to start a deployed relay (the Redis store, or listening beyond loopback) with a weak, placeholder or
/// missing admin key, or with a weak or placeholder configured tenant key or stream token secret (one check,
/// <see cref="AdminKeyPolicy.Weakness"/>, for every secret). The embedded demo on loopback keeps its convenience:
/// any key, or one generated per run.
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
        var problems = OtherSecretProblems(options, why).ToList();
        if (AdminKeyProblem(options, why) is { } adminProblem)
        {
            problems.Insert(0, adminProblem);
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Configured tenant keys and the stream token secret, held to the admin key's rules (never echoed: they are secrets).</summary>
    private IEnumerable<string> OtherSecretProblems(RelayOptions options, string why)
    {
        var advice = $"Outside the embedded demo ({why}) it must be a random secret of at least {AdminKeyPolicy.MinLength} characters, "
            + "for example from `openssl rand -hex 24`.";
        foreach (var (id, tenant) in options.Tenants)
        {
            for (var i = 0; i < tenant.Keys.Count; i++)
            {
                if (!string.IsNullOrWhiteSpace(tenant.Keys[i]) && AdminKeyPolicy.Weakness(tenant.Keys[i]) is { } weakness)
                {
                    yield return $"Relay:Tenants:{id}:Keys:{i} is too weak because {weakness}. {advice}";
                }
            }
        }

        foreach (var key in new[] { "TokenSecret", "PreviousTokenSecret" })
        {
            if (configuration[$"{StreamSecurityOptions.SectionName}:{key}"] is { Length: > 0 } secret && AdminKeyPolicy.Weakness(secret) is { } weakness)
            {
                yield return $"{StreamSecurityOptions.SectionName}:{key} is too weak because {weakness}. {advice} Leave it unset to have one generated.";
            }
        }
    }

    private static string? AdminKeyProblem(RelayOptions options, string why)
    {
        if (options.AdminKeyGenerated)
        {
            return options.Store == "redis"
                ? $"Relay:AdminKey is required because {why}: every silo must share one admin key. "
                    + "Set Relay__AdminKey from a secret (for example `openssl rand -hex 24`)."
                : null; // a generated key is strong; it is printed once at start
        }

        return AdminKeyPolicy.Weakness(options.AdminKey!) is { } weakness
            ? $"Relay:AdminKey is too weak because {weakness}. Outside the embedded demo ({why}) the admin key must be "
                + $"a random secret of at least {AdminKeyPolicy.MinLength} characters, for example from `openssl rand -hex 24`."
            : null;
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
