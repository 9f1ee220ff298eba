namespace RelayCluster.MockUpstream;

internal static class Program
{
    public static Task Main(string[] args) => MockUpstreamApp.Build(args).RunAsync();
}
