using Microsoft.Extensions.Logging.Abstractions;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Files;

public sealed class FileSweeperTests
{
    [Fact]
    public async Task The_sweeper_deletes_expired_files_from_the_disk_when_it_starts()
    {
        using var directory = new TempDirectory();
        var clock = new ManualClock(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new FilesOptions { Path = directory.Path, SweepIntervalSeconds = 3600 };
        var store = new DirectoryFileStore(options, clock);
        var expiring = await store.SaveAsync("acme", "in.jsonl", "batch", new MemoryStream("{}"u8.ToArray()), 3600, 1024, CancellationToken.None);
        var lasting = await store.SaveAsync("acme", "notes.txt", "user_data", new MemoryStream("{}"u8.ToArray()), null, 1024, CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(1));

        using var sweeper = new FileSweeper(store, options, clock, NullLogger<FileSweeper>.Instance);
        await sweeper.StartAsync(CancellationToken.None);
        var remaining = await Eventually.WaitAsync(
            () => Task.FromResult(Directory.GetFiles(directory.Path, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList()),
            names => names.Count == 2,
            TimeSpan.FromSeconds(10));
        await sweeper.StopAsync(CancellationToken.None);

        Assert.Equal([lasting.Id + ".content", lasting.Id + ".json"], remaining!.Order(StringComparer.Ordinal));
        Assert.Null(await store.GetAsync("acme", expiring.Id));
    }
}
