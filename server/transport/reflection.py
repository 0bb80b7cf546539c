"""Server reflection that serves the contract's descriptors with their comments.

The generated ``*_pb2`` modules register descriptors without source info, and the upb
runtime drops source info from any pool it builds, so a reflection servicer reading a
``DescriptorPool`` can never send a comment (``grpcurl describe`` would show none) and
cannot find a method by name. ``make proto`` writes ``textlens/v1/textlens.binpb``, a
FileDescriptorSet with source info and every import; ``DescriptorSetSource`` answers the
reflection servicer's lookups from it, returning the files exactly as compiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor

DESCRIPTOR_SET = ("textlens.v1", "textlens.binpb")


class _File:
    """A file as the reflection servicer reads it: its name, its imports, its proto."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        self.proto = proto
        self.name = proto.name
        self.dependencies: list[_File] = []

    def CopyToProto(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        proto.CopyFrom(self.proto)


class DescriptorSetSource:
    """The lookups grpcio-reflection makes on its ``pool``, answered from whole files.

    Files and symbols come from the descriptor set; extension lookups, which need real
    descriptors, go to a pool built from the same files.
    """

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self._files: dict[str, _File] = {}
        self._symbols: dict[str, _File] = {}
        self._pool = descriptor_pool.DescriptorPool()
        for proto in files:
            if proto.name in self._files:
                continue
            file = _File(proto)
            # A FileDescriptorSet lists every file after its imports.
            file.dependencies = [self._files[name] for name in proto.dependency]
            self._files[proto.name] = file
            self._symbols.update(dict.fromkeys(_symbols(proto), file))
            self._pool.Add(proto)

    @classmethod
    def from_contract(cls, *extra: FileDescriptor) -> DescriptorSetSource:
        """The committed descriptor set of textlens.v1, plus ``extra`` files compiled
        into this process (health, reflection), which have no comments to lose."""
        data = resources.files(DESCRIPTOR_SET[0]).joinpath(DESCRIPTOR_SET[1]).read_bytes()
        files = list(descriptor_pb2.FileDescriptorSet.FromString(data).file)
        for descriptor in extra:
            files.extend(_with_imports(descriptor))
        return cls(files)

    def FindFileByName(self, name: str) -> _File:
        return self._files[name]

    def FindFileContainingSymbol(self, symbol: str) -> _File:
        return self._symbols[symbol.removeprefix(".")]

    def FindMessageTypeByName(self, name: str) -> Descriptor:
        return self._pool.FindMessageTypeByName(name)

    def FindExtensionByNumber(self, message: Descriptor, number: int) -> FieldDescriptor:
        return self._pool.FindExtensionByNumber(message, number)

    def FindAllExtensions(self, message: Descriptor) -> list[FieldDescriptor]:
        return list(self._pool.FindAllExtensions(message))


def _with_imports(descriptor: FileDescriptor) -> Iterator[descriptor_pb2.FileDescriptorProto]:
    for dependency in descriptor.dependencies:
        yield from _with_imports(dependency)
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    yield proto


def _symbols(file: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    """Every fully qualified name the file declares, as protoc scopes them (an enum's
    values are siblings of the enum)."""
    scope = f"{file.package}." if file.package else ""
    yield from _messages(scope, file.message_type)
    yield from _enums(scope, file.enum_type)
    yield from (scope + extension.name for extension in file.extension)
    for service in file.service:
        yield scope + service.name
        yield from (f"{scope}{service.name}.{method.name}" for method in service.method)


def _messages(scope: str, messages: Iterable[descriptor_pb2.DescriptorProto]) -> Iterator[str]:
    for message in messages:
        name = scope + message.name
        yield name
        inner = f"{name}."
        yield from (inner + field.name for field in message.field)
        yield from (inner + oneof.name for oneof in message.oneof_decl)
        yield from (inner + extension.name for extension in message.extension)
        yield from _messages(inner, message.nested_type)
        yield from _enums(inner, message.enum_type)


def _enums(scope: str, enums: Iterable[descriptor_pb2.EnumDescriptorProto]) -> Iterator[str]:
    for enum in enums:
        yield scope + enum.name
        yield from (scope + value.name for value in enum.value)
