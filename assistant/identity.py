"""Who is asking, as the app names it: re-exports `knowledge.access.Principal`.

The type lives in `knowledge/` (the lowest package that decides on it) so that no lower package
imports `assistant/`; the app and its UI keep importing it from here.
"""

from __future__ import annotations

from knowledge.access import LOCAL_OPERATOR as LOCAL_OPERATOR
from knowledge.access import Principal as Principal
from knowledge.access import Role as Role
