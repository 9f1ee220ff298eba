using System.Globalization;
using System.Text.RegularExpressions;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Tests.Configuration;

/// <summary>
/// What the README tells a newcomer about the first run is checked against the code, so the two cannot drift: the
/// demo tenant's limits, the default models' prices, and the <c>--</c> that passes options to the relay.
/// </summary>
public sealed partial class ReadmeFactsTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));

    [Fact]
    public void The_demo_tenant_row_gives_its_real_limits()
    {
        var demo = Defaults().Tenants["demo"];
        var row = Row("tenant `demo`");

        Assert.Contains($"{Number(demo.RequestsPerMinute!.Value)} requests", row, StringComparison.Ordinal);
        Assert.Contains($"{Number(demo.TokensPerMinute!.Value)} tokens a minute", row, StringComparison.Ordinal);
        Assert.Contains($"{demo.MaxConcurrent} requests at once", row, StringComparison.Ordinal);
        Assert.Contains($"${demo.MonthlyBudgetUsd!.Value.ToString("0.##", CultureInfo.InvariantCulture)}", row, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mock-fast")]
    [InlineData("mock-embed")]
    public void Each_default_model_row_gives_its_real_prices(string model)
    {
        var options = Defaults().Models[model];
        var row = Row($"model `{model}`");

        Assert.Contains($"${options.InputPerMTok.ToString("0.00", CultureInfo.InvariantCulture)}", row, StringComparison.Ordinal);
        if (options.OutputPerMTok > 0)
        {
            Assert.Contains($"${options.OutputPerMTok.ToString("0.00", CultureInfo.InvariantCulture)} output", row, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_dotnet_run_of_the_silo_passes_its_options_after_a_double_dash()
    {
        // `dotnet run --project X --urls …` hands --urls to dotnet run itself, which refuses it.
        var runs = DotnetRun().Matches(Readme).Select(m => m.Value).ToList();

        Assert.NotEmpty(runs);
        Assert.All(runs, run =>
        {
            var rest = run["dotnet run --project src/RelayCluster.Silo".Length..].Trim();
            Assert.True(rest.Length == 0 || rest.StartsWith("-- ", StringComparison.Ordinal) || rest.StartsWith('`'), run);
        });
    }

    private static RelayOptions Defaults()
    {
        var options = new RelayOptions { DemoKey = "sk-demo-readme-test" };
        RelayOptionsDefaults.Apply(options);
        return options;
    }

    private static string Row(string firstCell) =>
        Readme.Split('\n').SingleOrDefault(line => line.StartsWith($"| {firstCell}", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"README has no table row starting with '{firstCell}'.");

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RelayCluster.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("RelayCluster.sln not found above the test's folder.");
    }

    [GeneratedRegex(@"dotnet run --project src/RelayCluster\.Silo[^\n]*")]
    private static partial Regex DotnetRun();
}
