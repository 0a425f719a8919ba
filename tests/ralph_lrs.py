"""Start Ralph's LRS on 127.0.0.1:PORT with its file-system backend (run with .venv-ralph's python).

``ralph runserver`` writes the fs backend with its default operation, ``index``,
which refuses a second write to the same file; the backend also supports
``append``, which is what an LRS receiving many requests needs. Everything
else (validation, the xAPI API, authentication) is Ralph's own.
"""

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend

FSDataBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
