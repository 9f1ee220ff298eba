using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace RelayCluster.Silo.Hosting;

/// <summary>
/// The co-hosted Orleans silo: <c>Relay:SiloPort</c> (the silo-to-silo port; unset means a free port chosen at start,
/// in the cluster too, so several silos share one machine; deployments set 11111) and <c>Relay:Orleans:*</c> (cluster
/// identity, advertised address, dashboard).
/// </summary>
public sealed class OrleansOptions
{
    public const string SectionName = "Relay:Orleans";
    public const string SiloPortKey = "Relay:SiloPort";
    public const string AdvertisedAddressKey = "Relay:Orleans:AdvertisedAddress";

    /// <summary>The Orleans silo port; null picks a free loopback port at start (embedded: two relays never collide).</summary>
    public int? SiloPort { get; set; }

    /// <summary>Stable across deployments: grain state and reminders are keyed by it.</summary>
    public string ServiceId { get; set; } = "relaycluster";

    /// <summary>Silos with the same ClusterId (and ServiceId) form one cluster.</summary>
    public string ClusterId { get; set; } = "relay";

    /// <summary>
    /// The address other silos reach this one on (an IP, or a host name resolved at start); unset means loopback, for
    /// silos on one machine. A container sets it to its own address (Kubernetes: <c>status.podIP</c>).
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// The Orleans Dashboard at <c>/admin/orleans</c>, behind the admin key; off unless set. It is a diagnostic tool with a
    /// price: measured on a silo, about 80 MB of memory (an idle silo is 124 MB without it, 202 MB with it) and, since its
    /// profiler intercepts every grain call, a quarter more CPU per batch item (0.36 → 0.45 ms).
    /// </summary>
    public bool Dashboard { get; set; }

    /// <summary>Reads both keys; a malformed port fails here, at start, with the key named.</summary>
    internal static OrleansOptions Read(IConfiguration configuration) => Bind(new OrleansOptions(), configuration);

    internal static OrleansOptions Bind(OrleansOptions options, IConfiguration configuration)
    {
        configuration.GetSection(SectionName).Bind(options);
        if (configuration[SiloPortKey] is { Length: > 0 } port)
        {
            options.SiloPort = int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new OptionsValidationException(SiloPortKey, typeof(OrleansOptions), [$"{SiloPortKey} must be a port number, not '{port}'."]);
        }

        return options;
    }
}

internal sealed partial class OrleansOptionsValidator : IValidateOptions<OrleansOptions>
{
    public ValidateOptionsResult Validate(string? name, OrleansOptions options)
    {
        var errors = new List<string>();
        if (options.SiloPort is < 1 or > 65535)
        {
            errors.Add($"{OrleansOptions.SiloPortKey} must be between 1 and 65535 (leave it unset for a free port), not {options.SiloPort}.");
        }

        foreach (var (key, value) in new[] { ("ServiceId", options.ServiceId), ("ClusterId", options.ClusterId) })
        {
            // These become parts of Redis keys and of silo names: keep them plain.
            if (string.IsNullOrEmpty(value) || !Identifier().IsMatch(value))
            {
                errors.Add($"{OrleansOptions.SectionName}:{key} must be 1 to 64 letters, digits, '.', '_' or '-', not '{value}'.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex Identifier();
}
