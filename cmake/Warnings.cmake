# The one list of warnings. Every target in the project uses mp_warnings().
set(MP_WARNINGS
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wcast-qual -Wvla
    -Wundef -Werror)
# Messages are bounded on purpose: a server's text is cut, never grown to fit.
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND MP_WARNINGS -Wno-format-truncation)
endif()

function(mp_warnings target)
  target_compile_options(${target} PRIVATE ${MP_WARNINGS})
endfunction()
