"""The xAPI Statements resource at ``/xapi``: an LRS endpoint LMSs post to, and the embedded store."""
