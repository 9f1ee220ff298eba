using Microsoft.Extensions.Options;

namespace RelayCluster.Core.Configuration;

/// <summary>Rejects a configuration that would fail at request time, so the silo fails at start instead.</summary>
public sealed partial class RelayOptionsValidator : IValidateOptions<RelayOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var errors = new List<string>();
        if (options.Store is not ("memory" or "redis"))
        {
            errors.Add($"Relay:Store must be 'memory' or 'redis', not '{options.Store}'.");
        }

        if (options.Store == "redis" && string.IsNullOrWhiteSpace(options.Redis))
        {
            errors.Add("Relay:Redis (host:port) is required when Relay:Store is 'redis'.");
        }

        if (options.ReservationSeconds < 5)
        {
            errors.Add("Relay:ReservationSeconds must be at least 5.");
        }

        foreach (var (id, provider) in options.Providers)
        {
            if (provider.Type is not (ProviderTypes.Simulator or ProviderTypes.OpenAi or ProviderTypes.Anthropic))
            {
                errors.Add($"Relay:Providers:{id}:Type must be 'simulator', 'openai' or 'anthropic', not '{provider.Type}'.");
            }
            else if (provider.Type is (ProviderTypes.OpenAi or ProviderTypes.Anthropic) && !Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out _))
            {
                errors.Add($"Relay:Providers:{id}:BaseUrl must be an absolute URL.");
            }

            if (provider.Resilience.Problem() is { } problem)
            {
                errors.Add($"Relay:Providers:{id}:Resilience: {problem}");
            }
        }

        foreach (var (id, model) in options.Models)
        {
            if (!options.Providers.ContainsKey(model.Provider))
            {
                errors.Add($"Relay:Models:{id}:Provider '{model.Provider}' is not a configured provider.");
            }

            if (model.InputPerMTok < 0 || model.OutputPerMTok < 0 || model.DefaultMaxOutputTokens < 1)
            {
                errors.Add($"Relay:Models:{id} has a negative price or a DefaultMaxOutputTokens below 1.");
            }

            if (model.Endpoint is not null && !ModelEndpoints.IsKnown(model.Endpoint))
            {
                errors.Add($"Relay:Models:{id}:Endpoint must be '{ModelEndpoints.Chat}' or '{ModelEndpoints.Embeddings}', not '{model.Endpoint}'.");
            }
            else if (ModelEndpoints.Of(id, model) == ModelEndpoints.Embeddings
                && options.Providers.TryGetValue(model.Provider, out var host) && host.Type == ProviderTypes.Anthropic)
            {
                // Anthropic has no embeddings API; a model named "*embed*" on it must say Endpoint "chat".
                errors.Add($"Relay:Models:{id} is an embeddings model (its Endpoint, or 'embed' in its name) on an Anthropic provider, which has no embeddings API.");
            }

            if (model.OutputLimit < model.DefaultMaxOutputTokens || model.OutputLimit > ModelOptions.CeilingMaxOutputTokens)
            {
                errors.Add($"Relay:Models:{id}:MaxOutputTokens must be at least DefaultMaxOutputTokens ({model.DefaultMaxOutputTokens}) " +
                    $"and at most {ModelOptions.CeilingMaxOutputTokens}.");
            }

            if (model.InputPerMTok > ModelOptions.CeilingPricePerMTok || model.OutputPerMTok > ModelOptions.CeilingPricePerMTok)
            {
                errors.Add($"Relay:Models:{id} has a price above {ModelOptions.CeilingPricePerMTok} USD per million tokens.");
            }

            ValidatePromptCosts(id, model, errors);
        }

        foreach (var (alias, target) in options.Aliases)
        {
            if (!options.Models.ContainsKey(target))
            {
                errors.Add($"Relay:Aliases:{alias} points at '{target}', which is not a configured model.");
            }
        }

        if (options.DefaultModel is { } fallback && !options.Models.ContainsKey(fallback))
        {
            errors.Add($"Relay:DefaultModel '{fallback}' is not a configured model.");
        }

        foreach (var (model, route) in options.Routes)
        {
            errors.AddRange(Routing.RouteValidator.Problems(route.Normalize(), options.Models.ContainsKey)
                .Concat(Routing.RouteValidator.EndpointProblems(route.Normalize(), m => options.Models.TryGetValue(m, out var o) ? ModelEndpoints.Of(m, o) : null))
                .Select(p => $"Relay:Routes:{model} {p.Field}: {p.Message}"));
        }

        if (options.Shadow.MaxConcurrent < 1 || options.Shadow.TimeoutSeconds <= 0 || options.Shadow.Window < 1)
        {
            errors.Add("Relay:Shadow needs MaxConcurrent, TimeoutSeconds and Window above zero.");
        }

        var seenKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, tenant) in options.Tenants)
        {
            if (tenant.Keys.Count == 0 || tenant.Keys.Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"Relay:Tenants:{id} needs at least one non-empty key.");
            }

            errors.AddRange(tenant.Keys.Where(k => !seenKeys.Add(k)).Select(_ => $"Relay:Tenants:{id} reuses a key of another tenant."));
            if (options.AdminKey is { Length: > 0 } adminKey && tenant.Keys.Contains(adminKey, StringComparer.Ordinal))
            {
                // The admin key authenticates /admin: a tenant holding it would hold every tenant's keys and budgets.
                errors.Add($"Relay:Tenants:{id} has a key equal to Relay:AdminKey; a tenant key must never be the admin key.");
            }

            if (tenant.RequestsPerMinute < 0 || tenant.TokensPerMinute < 0 || tenant.MaxConcurrent < 0 || tenant.MonthlyBudgetUsd < 0)
            {
                errors.Add($"Relay:Tenants:{id} has a negative limit.");
            }

            if (!Tenants.TenantLimits.IsThreshold(tenant.AlertThreshold) || !Tenants.TenantLimits.IsThreshold(tenant.PauseThreshold))
            {
                errors.Add($"Relay:Tenants:{id} AlertThreshold and PauseThreshold must be fractions of the budget in [0, 1] (0 turns one off).");
            }

            if (AlertOptions.WebhookProblem(tenant.AlertWebhookUrl) is { } webhook)
            {
                errors.Add($"Relay:Tenants:{id}:AlertWebhookUrl {webhook}");
            }
        }

        if (options.Requests.MaxBodyBytes < 1024 || options.Requests.HeartbeatSeconds <= 0)
        {
            errors.Add("Relay:Requests:MaxBodyBytes must be at least 1024 and HeartbeatSeconds positive.");
        }

        if (options.Requests.MaxResponseBytes < 1024)
        {
            // Below an error envelope's size every 2xx answer would fail.
            errors.Add("Relay:Requests:MaxResponseBytes must be at least 1024.");
        }

        if (string.IsNullOrWhiteSpace(options.Files.Path) || options.Files.MaxUploadBytes < 1 || options.Files.DefaultExpirySeconds < 1 || options.Files.SweepIntervalSeconds <= 0)
        {
            errors.Add("Relay:Files needs a Path, and MaxUploadBytes, DefaultExpirySeconds and SweepIntervalSeconds above zero.");
        }

        if (options.SyncBatch.Problem() is { } syncBatchProblem)
        {
            errors.Add($"Relay:SyncBatch: {syncBatchProblem}");
        }

        var batches = options.Batches;
        if (string.IsNullOrWhiteSpace(batches.WorkPath) || batches.ChunkSize < 1 || batches.MaxConcurrentItems < 1 || batches.MaxConcurrentChunks < 1
            || batches.MaxAttempts < 1 || batches.MaxItemsPerTenant < 0 || batches.MaxTaskAttempts < 1 || batches.RetryBaseMs < 0 || batches.RetryMaxMs < batches.RetryBaseMs || batches.LeaseSeconds < 1
            || batches.CompletionWindowSeconds < 1 || batches.MaxRequests < 1 || batches.ProgressIntervalMs < 0)
        {
            errors.Add("Relay:Batches needs a WorkPath, and ChunkSize, MaxConcurrentItems, MaxConcurrentChunks, MaxAttempts, MaxTaskAttempts, LeaseSeconds (at least 1), MaxItemsPerTenant ≥ 0, "
                + "CompletionWindowSeconds and MaxRequests above zero, with 0 ≤ RetryBaseMs ≤ RetryMaxMs.");
        }

        if (batches.PriceFactor < 0 || batches.CapacityShare is <= 0 or > 1)
        {
            errors.Add("Relay:Batches:PriceFactor must not be negative, and CapacityShare must be in (0, 1].");
        }

        if (options.Alerts.Problem() is { } alerts)
        {
            errors.Add($"Relay:Alerts: {alerts}");
        }

        errors.AddRange(ConfiguredNames.Problems(options));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
