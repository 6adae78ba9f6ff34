from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DenseNdArray(_message.Message):
    __slots__ = ("buffer", "shape", "dtype")
    BUFFER_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    buffer: bytes
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    def __init__(self, buffer: _Optional[bytes] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ...) -> None: ...

class SparseNdArray(_message.Message):
    __slots__ = ("indices", "values", "shape")
    INDICES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    indices: DenseNdArray
    values: DenseNdArray
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, indices: _Optional[_Union[DenseNdArray, _Mapping]] = ..., values: _Optional[_Union[DenseNdArray, _Mapping]] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class NdArray(_message.Message):
    __slots__ = ("dense", "sparse", "cls_name", "parameters")
    DENSE_FIELD_NUMBER: _ClassVar[int]
    SPARSE_FIELD_NUMBER: _ClassVar[int]
    CLS_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    dense: DenseNdArray
    sparse: SparseNdArray
    cls_name: str
    parameters: _struct_pb2.Struct
    def __init__(self, dense: _Optional[_Union[DenseNdArray, _Mapping]] = ..., sparse: _Optional[_Union[SparseNdArray, _Mapping]] = ..., cls_name: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class NamedScore(_message.Message):
    __slots__ = ("value", "op_name", "description", "ref_id")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OP_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REF_ID_FIELD_NUMBER: _ClassVar[int]
    value: float
    op_name: str
    description: str
    ref_id: str
    def __init__(self, value: _Optional[float] = ..., op_name: _Optional[str] = ..., description: _Optional[str] = ..., ref_id: _Optional[str] = ...) -> None: ...

class DocumentProto(_message.Message):
    __slots__ = ("id", "blob", "tensor", "text", "granularity", "adjacency", "parent_id", "weight", "uri", "modality", "mime_type", "offset", "location", "chunks", "matches", "embedding", "tags", "scores", "evaluations", "_metadata")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: NamedScore
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[NamedScore, _Mapping]] = ...) -> None: ...
    class EvaluationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: NamedScore
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[NamedScore, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    ADJACENCY_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    _METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    blob: bytes
    tensor: NdArray
    text: str
    granularity: int
    adjacency: int
    parent_id: str
    weight: float
    uri: str
    modality: str
    mime_type: str
    offset: float
    location: _containers.RepeatedScalarFieldContainer[float]
    chunks: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    matches: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    embedding: NdArray
    tags: _struct_pb2.Struct
    scores: _containers.MessageMap[str, NamedScore]
    evaluations: _containers.MessageMap[str, NamedScore]
    _metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., blob: _Optional[bytes] = ..., tensor: _Optional[_Union[NdArray, _Mapping]] = ..., text: _Optional[str] = ..., granularity: _Optional[int] = ..., adjacency: _Optional[int] = ..., parent_id: _Optional[str] = ..., weight: _Optional[float] = ..., uri: _Optional[str] = ..., modality: _Optional[str] = ..., mime_type: _Optional[str] = ..., offset: _Optional[float] = ..., location: _Optional[_Iterable[float]] = ..., chunks: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ..., matches: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ..., embedding: _Optional[_Union[NdArray, _Mapping]] = ..., tags: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., scores: _Optional[_Mapping[str, NamedScore]] = ..., evaluations: _Optional[_Mapping[str, NamedScore]] = ..., _metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DocumentArrayProto(_message.Message):
    __slots__ = ("docs",)
    DOCS_FIELD_NUMBER: _ClassVar[int]
    docs: _containers.RepeatedCompositeFieldContainer[DocumentProto]
    def __init__(self, docs: _Optional[_Iterable[_Union[DocumentProto, _Mapping]]] = ...) -> None: ...
