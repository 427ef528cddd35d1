# Locates BoringSSL and refuses anything else.
#
# Default: Debian's android-libboringssl-dev (headers in <prefix>/include/android, shared libraries in
# <prefix>/lib/<triplet>/android, no pkg-config file), linked with an rpath because that directory is
# not on the loader's path.
# -DBORINGSSL_ROOT=<dir>: an upstream tree: <dir>/include and libssl/libcrypto in <dir>, <dir>/build,
# <dir>/build/ssl|crypto or <dir>/lib.
#
# Contract: defines the imported targets BoringSSL::ssl and BoringSSL::crypto and the variables
# BORINGSSL_INCLUDE_DIR, BORINGSSL_LIB_DIR; fails configuration if the headers are OpenSSL's.
include(CheckSymbolExists)

# Default: the full-speed build of Debian's own source package (scripts/boringssl-fast), else
# Debian's binary package, which is built with OPENSSL_SMALL (about 3x slower handshake crypto).
set(MH_BORINGSSL_FAST ${CMAKE_CURRENT_SOURCE_DIR}/build-boringssl)
if(NOT BORINGSSL_ROOT AND EXISTS ${MH_BORINGSSL_FAST}/include/openssl/ssl.h
   AND EXISTS ${MH_BORINGSSL_FAST}/lib/libcrypto.so.0)
  set(BORINGSSL_ROOT ${MH_BORINGSSL_FAST})
  set(_bssl_fast TRUE)
elseif(NOT BORINGSSL_ROOT)
  message(WARNING "Linking Debian's android-libboringssl binary, built with OPENSSL_SMALL (about 3x "
                  "slower ECDSA/X25519). Run scripts/boringssl-fast for the full-speed build.")
endif()

if(BORINGSSL_ROOT)
  set(_bssl_inc_hints ${BORINGSSL_ROOT}/include)
  set(_bssl_lib_hints ${BORINGSSL_ROOT} ${BORINGSSL_ROOT}/build ${BORINGSSL_ROOT}/build/ssl
      ${BORINGSSL_ROOT}/build/crypto ${BORINGSSL_ROOT}/ssl ${BORINGSSL_ROOT}/crypto ${BORINGSSL_ROOT}/lib)
  set(_bssl_origin "upstream tree ${BORINGSSL_ROOT}")
  if(_bssl_fast)
    set(_bssl_origin "full-speed build of Debian's source package in ${BORINGSSL_ROOT}")
  endif()
else()
  set(_bssl_inc_hints /usr/include/android)
  set(_bssl_lib_hints /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android)
  set(_bssl_origin "Debian android-libboringssl-dev")
endif()

# Search again at every configure: the tree may have changed (e.g. the full-speed build appeared).
unset(BORINGSSL_INCLUDE_DIR CACHE)
unset(BORINGSSL_SSL_LIBRARY CACHE)
unset(BORINGSSL_CRYPTO_LIBRARY CACHE)
# NO_DEFAULT_PATH: never fall back to /usr/include/openssl or libssl.so.3 (OpenSSL).
find_path(BORINGSSL_INCLUDE_DIR openssl/ssl.h HINTS ${_bssl_inc_hints} NO_DEFAULT_PATH)
find_library(BORINGSSL_SSL_LIBRARY NAMES ssl HINTS ${_bssl_lib_hints} NO_DEFAULT_PATH)
find_library(BORINGSSL_CRYPTO_LIBRARY NAMES crypto HINTS ${_bssl_lib_hints} NO_DEFAULT_PATH)

if(NOT BORINGSSL_INCLUDE_DIR OR NOT BORINGSSL_SSL_LIBRARY OR NOT BORINGSSL_CRYPTO_LIBRARY)
  message(FATAL_ERROR
    "BoringSSL not found (${_bssl_origin}): headers='${BORINGSSL_INCLUDE_DIR}' "
    "libssl='${BORINGSSL_SSL_LIBRARY}' libcrypto='${BORINGSSL_CRYPTO_LIBRARY}'. "
    "Install android-libboringssl-dev (scripts/deps does) or pass -DBORINGSSL_ROOT=<upstream tree>.")
endif()

set(CMAKE_REQUIRED_INCLUDES ${BORINGSSL_INCLUDE_DIR})
check_symbol_exists(OPENSSL_IS_BORINGSSL "openssl/ssl.h" MH_HAVE_BORINGSSL_HEADERS)
unset(CMAKE_REQUIRED_INCLUDES)
if(NOT MH_HAVE_BORINGSSL_HEADERS)
  message(FATAL_ERROR
    "The headers in ${BORINGSSL_INCLUDE_DIR} are not BoringSSL (OPENSSL_IS_BORINGSSL is not defined): "
    "refusing to build against OpenSSL. Point -DBORINGSSL_ROOT at a BoringSSL tree.")
endif()

get_filename_component(BORINGSSL_LIB_DIR ${BORINGSSL_SSL_LIBRARY} DIRECTORY)
message(STATUS "BoringSSL: ${_bssl_origin}; headers ${BORINGSSL_INCLUDE_DIR}; libssl ${BORINGSSL_SSL_LIBRARY}")

foreach(_c ssl crypto)
  string(TOUPPER ${_c} _C)
  if(BORINGSSL_${_C}_LIBRARY MATCHES "\\.a$")
    add_library(BoringSSL::${_c} STATIC IMPORTED)
  else()
    add_library(BoringSSL::${_c} SHARED IMPORTED)
  endif()
  set_target_properties(BoringSSL::${_c} PROPERTIES
    IMPORTED_LOCATION ${BORINGSSL_${_C}_LIBRARY}
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ""
    INTERFACE_INCLUDE_DIRECTORIES ${BORINGSSL_INCLUDE_DIR})
endforeach()
set_property(TARGET BoringSSL::ssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES BoringSSL::crypto)
if(BORINGSSL_CRYPTO_LIBRARY MATCHES "\\.a$")
  # Upstream static libraries are C++ inside and need the C++ runtime and threads.
  find_package(Threads REQUIRED)
  set_property(TARGET BoringSSL::crypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads stdc++)
else()
  # The Debian directory is not on the loader's path: record it in the binary.
  set_property(TARGET BoringSSL::crypto APPEND PROPERTY INTERFACE_LINK_OPTIONS
               "-Wl,-rpath,${BORINGSSL_LIB_DIR}")
endif()
