namespace RelayCluster.Core.Configuration;

/// <summary>
/// Fills in what the embedded default needs to work out of the box: a simulator provider, simulator
/// models and a demo tenant. Each default applies only when that whole part is absent, so a real
/// configuration never inherits a demo key by accident, and only on the embedded store: a silo on the
/// Redis store is a deployed cluster, whose tenants and models are configured (or created through the
/// admin API) and whose shared store must never receive a demo tenant nobody asked for. What applies in
/// every mode: a tenant listing no models may use every model, and an unset admin key is generated
/// (which the Redis store then refuses, see the admin key validator).
/// </summary>
public static class RelayOptionsDefaults
{
    public const string SimulatorProvider = "sim";
    public const string DemoTenant = "demo";

    /// <summary>The store that makes a silo part of a deployed cluster, where no demo default applies.</summary>
    public const string ClusterStore = "redis";

    public static void Apply(RelayOptions options)
    {
        if (options.Store != ClusterStore)
        {
            ApplyDemo(options);
        }

        foreach (var tenant in options.Tenants.Values.Where(t => t.Models.Count == 0))
        {
            tenant.Models.Add("*");
        }

        if (string.IsNullOrEmpty(options.AdminKey))
        {
            options.AdminKey = "admin-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
            options.AdminKeyGenerated = true;
        }
    }

    /// <summary>The embedded demo: a simulator, its models and a demo tenant, each only where that part is absent.</summary>
    private static void ApplyDemo(RelayOptions options)
    {
        if (options.Providers.Count == 0)
        {
            options.Providers[SimulatorProvider] = new ProviderOptions { Type = ProviderTypes.Simulator };
        }

        if (options.Models.Count == 0 && options.Providers.TryGetValue(SimulatorProvider, out var sim)
            && sim.Type == ProviderTypes.Simulator)
        {
            options.Models["mock-fast"] = new ModelOptions
            {
                Provider = SimulatorProvider, InputPerMTok = 0.27m, OutputPerMTok = 1.10m, Endpoint = ModelEndpoints.Chat,
            };
            options.Models["mock-embed"] = new ModelOptions
            {
                Provider = SimulatorProvider, InputPerMTok = 0.02m, OutputPerMTok = 0m, Endpoint = ModelEndpoints.Embeddings,
            };
        }

        if (options.Tenants.Count == 0)
        {
            options.DemoKey ??= DemoKeyFile.LoadOrCreate(options.UsageLog.Path);
            options.Tenants[DemoTenant] = new TenantOptions
            {
                Keys = [options.DemoKey],
                RequestsPerMinute = 600,
                TokensPerMinute = 1_000_000,
                MaxConcurrent = 50,
                MonthlyBudgetUsd = 10m,
            };
            options.DemoTenantCreated = true;
        }
    }
}

public static class ProviderTypes
{
    public const string Simulator = "simulator";
    public const string OpenAi = "openai";
    public const string Anthropic = "anthropic";
}
