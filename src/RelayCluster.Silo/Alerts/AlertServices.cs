using Microsoft.Extensions.DependencyInjection.Extensions;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Alerts;

/// <summary>What tenant grains need to deliver budget webhooks.</summary>
public static class AlertServices
{
    /// <summary>
    /// Registers the webhook sender and its HTTP client (no redirects, no logging; the timeout is the sender's), with
    /// <c>Relay:Alerts</c> from <see cref="RelayOptions"/> when registered (else the defaults: a test silo).
    /// </summary>
    public static IServiceCollection AddBudgetAlerts(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => sp.GetService<RelayOptions>()?.Alerts ?? new AlertOptions());
        services.TryAddSingleton<AlertWebhook>();
        // No HttpClient logging: its handlers log the request URI, and a webhook's path is its secret.
        services.AddHttpClient(AlertWebhook.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
            .RemoveAllLoggers();
        return services;
    }
}

/// <summary>
/// Reminders keep a pending webhook alive across a silo's loss in the cluster (Redis reminders), but the embedded store's
/// reminders live in memory. So once the embedded host has started, this activates every tenant whose settings log holds
/// a pending delivery; the activation resumes it. Nothing to do over other journals.
/// </summary>
internal sealed partial class PendingAlertsWake(
    ITenantJournal journal, ITenantGrainFactory grains, IHostApplicationLifetime lifetime, ILogger<PendingAlertsWake> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (journal is EmbeddedTenantJournal embedded)
        {
            lifetime.ApplicationStarted.Register(() => _ = WakeAsync(embedded.TenantsWithPendingAlerts()));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task WakeAsync(IReadOnlyList<string> tenants)
    {
        foreach (var tenant in tenants)
        {
            try
            {
                await grains.GetTenant(tenant).GetAlertsAsync();
            }
            catch (StoreUnavailableException ex)
            {
                LogWakeFailed(logger, tenant, ex.Message); // its next request or admin read activates it and resumes the delivery
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}: could not resume its pending budget webhook at start ({Reason}).")]
    private static partial void LogWakeFailed(ILogger logger, string tenantId, string reason);
}
