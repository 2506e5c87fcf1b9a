"""暂停收托: a filed institution with a confirmed child-abuse case is suspended until two filing officers
decide to resume or deregister it."""
