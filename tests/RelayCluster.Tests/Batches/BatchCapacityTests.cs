using RelayCluster.Core.Configuration;
using RelayCluster.Silo.Batches;

namespace RelayCluster.Tests.Batches;

/// <summary>A silo's batch item slots: nearly full width for a tenant alone, fair handoff when tenants wait, a hard cap per tenant.</summary>
public sealed class BatchCapacityTests
{
    private static BatchCapacity Capacity(int slots, int perTenant = 0) =>
        new(new RelayOptions { Batches = new BatchOptions { MaxConcurrentItems = slots, MaxItemsPerTenant = perTenant } });

    [Fact]
    public async Task A_tenant_alone_fills_all_but_one_slot_and_another_tenant_still_gets_that_one()
    {
        var capacity = Capacity(4);
        var held = new List<IDisposable>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await capacity.AcquireAsync("big", CancellationToken.None));
        }

        var fourth = capacity.AcquireAsync("big", CancellationToken.None);
        Assert.False(fourth.IsCompleted); // its cap: all but one

        var other = capacity.AcquireAsync("small", CancellationToken.None);
        Assert.True(other.IsCompletedSuccessfully); // the slot kept back, though every "big" call hangs
        Assert.False(fourth.IsCompleted);

        held[0].Dispose();
        held[0].Dispose(); // a second dispose gives back nothing more
        var granted = await fourth.WaitAsync(TimeSpan.FromSeconds(5));
        var fifth = capacity.AcquireAsync("big", CancellationToken.None);
        Assert.False(fifth.IsCompleted);
        granted.Dispose();
        await fifth.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_freed_slot_goes_to_the_waiting_tenant_that_holds_the_fewest()
    {
        var capacity = Capacity(4, perTenant: 4);
        var big = new List<IDisposable>();
        for (var i = 0; i < 4; i++)
        {
            big.Add(await capacity.AcquireAsync("big", CancellationToken.None));
        }

        var bigNext = capacity.AcquireAsync("big", CancellationToken.None); // waits first
        var small = capacity.AcquireAsync("small", CancellationToken.None); // waits second, but holds none
        big[0].Dispose();
        await small.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(bigNext.IsCompleted);
        big[1].Dispose();
        await bigNext.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_cancelled_wait_takes_no_slot()
    {
        var capacity = Capacity(1, perTenant: 1);
        var only = await capacity.AcquireAsync("a", CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = capacity.AcquireAsync("b", cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        only.Dispose();
        var next = capacity.AcquireAsync("c", CancellationToken.None);
        Assert.True(next.IsCompletedSuccessfully); // the freed slot was not handed to the cancelled wait
    }
}
