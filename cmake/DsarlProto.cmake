# dsarl_proto_library(NAME PROTOS a.proto ... [GRPC]): generates C++ (and gRPC stubs with GRPC)
# from .proto files at build time with protoc and grpc_cpp_plugin. Imports resolve from the source
# root, so "proto/data.proto" is imported by that path and generates proto/data.pb.h.
function(dsarl_proto_library NAME)
  cmake_parse_arguments(ARG "GRPC" "" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  set(hdrs)
  foreach(proto ${ARG_PROTOS})
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${proto})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(out_cc ${CMAKE_BINARY_DIR}/${base}.pb.cc)
    set(out_h ${CMAKE_BINARY_DIR}/${base}.pb.h)
    set(outputs ${out_cc} ${out_h})
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outputs ${CMAKE_BINARY_DIR}/${base}.grpc.pb.cc ${CMAKE_BINARY_DIR}/${base}.grpc.pb.h)
      set(plugin_args --grpc_out=${CMAKE_BINARY_DIR} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
      list(APPEND srcs ${CMAKE_BINARY_DIR}/${base}.grpc.pb.cc)
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND protobuf::protoc --cpp_out=${CMAKE_BINARY_DIR} ${plugin_args}
              -I ${CMAKE_SOURCE_DIR} -I ${Protobuf_INCLUDE_DIRS} ${rel}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto} protobuf::protoc
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${out_cc})
  endforeach()
  # Generated code is not ours to warn about.
  set_source_files_properties(${srcs} PROPERTIES COMPILE_OPTIONS "-w")
  add_library(${NAME} STATIC ${srcs})
  target_include_directories(${NAME} PUBLIC ${CMAKE_BINARY_DIR})
  target_link_libraries(${NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${NAME} PUBLIC gRPC::grpc++)
  endif()
endfunction()
