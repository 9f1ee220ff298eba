using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RelayCluster.Core.Configuration;

/// <summary>
/// Finds every configured value the binder cannot convert to its setting's type (<c>10usd</c> for a decimal,
/// <c>1e3</c> or <c>abc</c> for an integer), anywhere under <c>Relay</c>. The binder throws for a malformed value of a
/// plain property (<c>Relay:ReservationSeconds=abc</c>) but silently skips a dictionary entry it cannot bind, so one
/// typo in a tenant or model dropped the whole entry and the demo defaults filled the gap. Every value is checked
/// here with the converter the binder uses, so such a silo stops at start with the key and value named.
/// </summary>
public static class ConfigurationValues
{
    /// <summary>One message per malformed value under <paramref name="section"/>, read as any of <paramref name="types"/>.</summary>
    [RequiresUnreferencedCode("Walks the option types by reflection, as the configuration binder does.")]
    public static IEnumerable<string> Problems(IConfigurationSection section, params Type[] types)
    {
        foreach (var child in section.GetChildren())
        {
            var property = types.Select(t => t.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)).FirstOrDefault(p => p is not null);
            if (property is not null)
            {
                foreach (var problem in ValueProblems(child, property.PropertyType))
                {
                    yield return problem;
                }
            }
        }
    }

    [RequiresUnreferencedCode("Walks the option types by reflection, as the configuration binder does.")]
    private static IEnumerable<string> ValueProblems(IConfigurationSection section, Type type)
    {
        var scalar = Nullable.GetUnderlyingType(type) ?? type;
        if (scalar == typeof(string) || scalar == typeof(object))
        {
            yield break;
        }

        if (scalar.IsPrimitive || scalar.IsEnum || scalar == typeof(decimal) || scalar == typeof(TimeSpan) || scalar == typeof(Uri))
        {
            if (section.Value is { Length: > 0 } value && !Converts(scalar, value))
            {
                yield return $"{section.Path} is '{value}', which is not a valid {Describe(scalar)}.";
            }

            yield break;
        }

        // Dictionaries and lists: every entry is a value of the element type (a list's keys are 0, 1, …).
        var element = ElementType(type);
        var children = element is null ? Problems(section, type) : section.GetChildren().SelectMany(c => ValueProblems(c, element));
        foreach (var problem in children)
        {
            yield return problem;
        }
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : null;
        if (generic == typeof(Dictionary<,>) || generic == typeof(IDictionary<,>) || generic == typeof(IReadOnlyDictionary<,>))
        {
            return type.GetGenericArguments()[1];
        }

        return generic == typeof(List<>) || generic == typeof(IList<>) || generic == typeof(IReadOnlyList<>) || generic == typeof(IEnumerable<>)
            ? type.GetGenericArguments()[0]
            : null;
    }

    private static bool Converts(Type type, string value)
    {
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException || ex.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "boolean (true or false)",
        _ when type == typeof(decimal) || type == typeof(double) || type == typeof(float) => "number (digits and an optional decimal point)",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "whole number (digits only)",
        _ when type.IsEnum => $"value ({string.Join(", ", Enum.GetNames(type))})",
        _ => type.Name,
    };
}

/// <summary>
/// Stops the silo at start when any value under <c>Relay</c> is malformed (see <see cref="ConfigurationValues"/>),
/// naming each key and value, before a dropped section could be replaced by defaults.
/// </summary>
public sealed class ConfigurationValuesValidator(IConfiguration configuration) : IValidateOptions<RelayOptions>
{
    /// <summary>Option types bound from sections of <c>Relay</c> other than <see cref="RelayOptions"/> itself.</summary>
    private static readonly Type[] StreamTypes = [typeof(Streams.StreamSettings), typeof(StreamSecurityOptions)];

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The silo is not trimmed; the option types are all referenced.")]
    public ValidateOptionsResult Validate(string? name, RelayOptions options)
    {
        var relay = configuration.GetSection(RelayOptions.SectionName);
        var problems = ConfigurationValues.Problems(relay, typeof(RelayOptions))
            .Concat(ConfigurationValues.Problems(relay.GetSection("Streams"), StreamTypes))
            .ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
