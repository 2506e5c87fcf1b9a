from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.grants import NoDataSharingGrant

__all__ = ["NoDataSharingGrant"]  # defined once for every service in shared.grants


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    message_zh = "游标无效：必须是不小于 -1 的整数"


class IndexOutOfRange(InvalidInput):
    code = "index_out_of_range"
    message_zh = "条目序号必须小于树的大小"


class SizeBeyondTree(InvalidInput):
    code = "size_beyond_tree"
    message_zh = "树的大小超过了台账当前的条目数"


class FromAfterTo(InvalidInput):
    code = "from_after_to"
    message_zh = "起点不能大于终点"


class LedgerInconsistent(Conflict):
    """The stored tree does not extend the last signed checkpoint: refuse to sign or prove."""

    code = "ledger_inconsistent"
    message_zh = "台账数据与已签名的检查点不一致，已停止签名，请立即核查"


class CheckpointNotFound(NotFound):
    """No checkpoint was signed at that tree size (the log signs only the sizes it reached)."""

    code = "checkpoint_not_found"
    message_zh = "该树大小没有已签名的检查点"


class WitnessKeyUnknown(Forbidden):
    """The cosignature names a key that is not registered as a witness key of the caller's agency."""

    code = "witness_key_unknown"
    message_zh = "该副署密钥未登记为本机构的见证密钥"


class CosignatureInvalid(InvalidInput):
    """Not a cosignature/v1 line, dated in the future, or its signature does not verify."""

    code = "cosignature_invalid"
    message_zh = "副署无效"
