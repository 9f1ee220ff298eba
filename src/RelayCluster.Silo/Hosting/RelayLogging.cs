namespace RelayCluster.Silo.Hosting;

/// <summary>
/// Log levels set in code, so they hold whatever the working folder (appsettings.json is read from the content root,
/// and a silo started elsewhere would run on the framework's Information default). Request URLs carry query strings,
/// and query strings can carry secrets (a subscribe token, a key someone put there), so the loggers that write URLs
/// stay at Warning.
/// </summary>
internal static class RelayLogging
{
    /// <summary>The ASP.NET Core request log (<c>Request starting … GET /path?query</c>): pinned, see <see cref="KeepUrlsOutOfLogs"/>.</summary>
    public const string RequestLogCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Defaults below every configuration source (appsettings, environment and command line override them): the relay's
    /// own logs at Information, the framework's, Orleans' and HttpClient's (which log request URLs) at Warning.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults =>
    [
        KeyValuePair.Create("Logging:LogLevel:Default", (string?)"Information"),
        KeyValuePair.Create("Logging:LogLevel:Microsoft.AspNetCore", (string?)"Warning"),
        KeyValuePair.Create("Logging:LogLevel:System.Net.Http.HttpClient", (string?)"Warning"),
        KeyValuePair.Create("Logging:LogLevel:Microsoft.Extensions.Http", (string?)"Warning"),
        // Orleans logs every option of every component at start (some 200 lines): the relay's own start line names the silo.
        KeyValuePair.Create("Logging:LogLevel:Orleans", (string?)"Warning"),
        // Orleans' placement runs through a Polly pipeline whose telemetry logs every attempt at Information.
        KeyValuePair.Create("Logging:LogLevel:Polly", (string?)"Warning"),
    ];

    /// <summary>
    /// The request log writes every URL with its query string and cannot redact it, so it is held at Warning by a rule
    /// added after the configuration's (a configured level for the same category does not lower it). Request ids in
    /// responses and the usage log identify requests; an access log belongs to the proxy in front.
    /// </summary>
    public static void KeepUrlsOutOfLogs(ILoggingBuilder logging)
    {
        logging.AddFilter(RequestLogCategory, LogLevel.Warning);
        // SignalR's dispatcher logs a hub's deliberate refusal (HubException) at Error; Streams.HubFailures logs hub
        // failures instead, a refusal below Error. Its Error entries are the only ones above Debug, so nothing else is lost.
        logging.AddFilter(Streams.HubFailures.DispatcherCategory, LogLevel.Critical);
    }
}
