namespace RelayCluster.Silo.Hosting;

public static class RelayConfiguration
{
    /// <summary>
    /// Standard .NET configuration plus <c>--config file.json</c>: the file is layered above appsettings
    /// and below environment variables and the command line, so <c>Relay__…</c> and <c>--Relay:…</c>
    /// still override it.
    /// </summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static WebApplicationBuilder AddRelayConfiguration(this WebApplicationBuilder builder, string[] args)
    {
        // The default address sits below every other source, so ASPNETCORE_URLS (containers), Urls and
        // --urls all override it; in appsettings.json it would override ASPNETCORE_URLS instead.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = [KeyValuePair.Create("urls", (string?)DefaultUrl), .. RelayLogging.Defaults],
        });
        RelayLogging.KeepUrlsOutOfLogs(builder.Logging);

        var index = Array.IndexOf(args, "--config");
        if (index >= 0 && index + 1 < args.Length)
        {
            var file = Path.GetFullPath(args[index + 1]);
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"The configuration file given with --config does not exist: {file}", file);
            }

            var sources = builder.Configuration.Sources;
            var position = sources.TakeWhile(s => s is not Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource).Count();
            var jsonSource = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path = file, Optional = false, ReloadOnChange = false };
            jsonSource.ResolveFileProvider();
            sources.Insert(position, jsonSource);
        }

        return builder;
    }
}
