namespace RelayCluster.Core.Metering;

/// <summary>
/// Token and money arithmetic that cannot wrap: results clamp to the range of a long instead. A wrapped sum
/// once turned a huge reservation negative and let it through every budget check; a saturated one is refused.
/// </summary>
public static class Saturating
{
    /// <summary><paramref name="a"/> + <paramref name="b"/>, clamped to [<see cref="long.MinValue"/>, <see cref="long.MaxValue"/>].</summary>
    public static long Add(long a, long b)
    {
        var sum = unchecked(a + b);

        // Overflow happened exactly when both operands share a sign that the sum does not.
        return ((a ^ sum) & (b ^ sum)) < 0 ? (a < 0 ? long.MinValue : long.MaxValue) : sum;
    }

    /// <summary><paramref name="a"/> × <paramref name="b"/>, clamped to [<see cref="long.MinValue"/>, <see cref="long.MaxValue"/>].</summary>
    public static long Multiply(long a, long b)
    {
        var product = (Int128)a * b;
        return product > long.MaxValue ? long.MaxValue : product < long.MinValue ? long.MinValue : (long)product;
    }
}
