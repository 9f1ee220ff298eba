using Microsoft.Extensions.Options;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Streams;
using RelayCluster.Core.Tenants;
using RelayCluster.Redis;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Keeps this silo's subscribe-token keys those of the cluster: loaded at start, again when another silo announces a
/// rotation (or after a reconnection, when an announcement may have been missed), and every minute as a safety net.
/// If the store does not answer at start the silo signs with a key of its own until it does: its tokens then
/// work only on itself, as streams without Redis would anyway.
/// </summary>
internal sealed partial class TokenSecretsSync(ITokenSecretStore store, StreamTokens tokens, TimeProvider time, ILogger<TokenSecretsSync> logger)
    : BackgroundService
{
    private static readonly TimeSpan Refresh = TimeSpan.FromMinutes(1);

    /// <summary>Registers the token keys, their store (configured, Redis or a file) and this sync.</summary>
    public static void AddTokenSecrets(IServiceCollection services)
    {
        services.AddOptions<StreamSecurityOptions>().BindConfiguration(StreamSecurityOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StreamSecurityOptions>, StreamSecurityOptionsValidator>();
        services.AddSingleton<ITokenSecretStore>(sp =>
        {
            var security = sp.GetRequiredService<IOptions<StreamSecurityOptions>>().Value;
            var relay = sp.GetRequiredService<RelayOptions>();
            return security.TokenSecret is { } secret ? new ConfiguredTokenSecrets(TokenSecrets.FromText(secret, security.PreviousTokenSecret))
                : relay.Store == "redis" ? new RedisTokenSecrets(sp.GetRequiredService<RedisConnection>())
                : new FileTokenSecrets(relay.UsageLog.Path);
        });

        // A provisional random key until the store's keys are loaded (before the server accepts requests).
        services.AddSingleton(sp => new StreamTokens(new TokenSecrets(TokenSecrets.NewKey(), null), sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<TokenSecretsSync>();
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync();
        await store.WatchAsync(() => _ = ReloadAsync());
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Refresh, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await ReloadAsync();
        }
    }

    private async Task ReloadAsync()
    {
        try
        {
            tokens.Use(await store.LoadAsync());
        }
        catch (StoreUnavailableException ex)
        {
            Log.LoadFailed(logger, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not load the subscribe-token keys ({Reason}); keeping the current ones")]
        public static partial void LoadFailed(ILogger logger, string reason);
    }
}
