using System.Text.Json.Serialization;

namespace Plexus.Devices;

[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class DevicesJsonContext : JsonSerializerContext;
